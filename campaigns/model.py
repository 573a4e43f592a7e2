"""The campaign model (pure core: no IO, no clock): states, windows, dispositions, retries.

- :class:`CampaignState` and :func:`transition`: draft → running ⇄ paused → stopped/finished.
- Daily windows in callee local time, ``[start, end)`` minutes; :func:`effective_windows`
  intersects a campaign's windows with the rules' window of its purpose, so a campaign is never
  wider than the rules (the gate checks the rules again at dial time anyway).
- :func:`disposition_for_cause`: a FreeSWITCH hangup cause (Q.850 name, as ``bgapi originate``
  answers ``-ERR <CAUSE>`` or ``CHANNEL_HANGUP_COMPLETE`` carries it) → a :class:`Disposition`;
  SIP 603 Decline arrives as ``CALL_REJECTED`` (mod_sofia's mapping) and is never retried.
- :func:`disposition_for_flow`: the flow's own outcome (``call_ended`` reason, consent evidence;
  ``abandoned``: an agent campaign's answered call that found no agent in the allowed seconds).
- :class:`RetryPolicy` and :func:`next_attempt_at`: when (if ever) to dial the number again: the
  later of the policy delay and the gate's ``retry_after``; never after a final outcome.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from compliance.rules import Window
from ivr.errors import IvrError, Param

_WINDOW_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


class CampaignError(IvrError):
    """A campaign definition or operation is invalid (the message says why); ``field`` names
    the campaign field at fault when there is one (the console shows the message next to it)."""

    code = "campaign.invalid"

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.field = field

    def on(self, field: str) -> CampaignError:
        """This error tagged with ``field`` (unless it names one already)."""
        if self.field:
            return self
        return CampaignError(str(self), field=field, code=self.code, params=self.params)


class CampaignState(StrEnum):
    DRAFT = "draft"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"


class PacingMode(StrEnum):
    """``bot``: bounded by bot capacity and the caps; ``agent``: adaptive dial level."""

    BOT = "bot"
    AGENT = "agent"


_MOVES: Mapping[str, frozenset[CampaignState]] = {
    "start": frozenset({CampaignState.DRAFT}),
    "pause": frozenset({CampaignState.RUNNING}),
    "resume": frozenset({CampaignState.PAUSED}),
    "stop": frozenset({CampaignState.DRAFT, CampaignState.RUNNING, CampaignState.PAUSED}),
    "finish": frozenset({CampaignState.RUNNING}),
}
_TARGET = {
    "start": CampaignState.RUNNING,
    "pause": CampaignState.PAUSED,
    "resume": CampaignState.RUNNING,
    "stop": CampaignState.STOPPED,
    "finish": CampaignState.FINISHED,
}


def transition(state: CampaignState, action: str) -> CampaignState:
    """The state after ``action`` (start, pause, resume, stop, finish); raises
    :class:`CampaignError` when the move is not allowed from ``state``."""
    allowed = _MOVES.get(action)
    if allowed is None:
        raise CampaignError(
            f"unknown campaign action {action!r}",
            code="campaign.unknown_action",
            params={"action": action},
        )
    if state not in allowed:
        raise CampaignError(
            f"cannot {action} a campaign that is {state.value}",
            code="campaign.cannot_act",
            params={"action": action, "state": state.value},
        )
    return _TARGET[action]


@dataclass(frozen=True, slots=True, order=True)
class DailyWindow:
    """``[start_minute, end_minute)`` of a callee-local day (end 1440 = midnight)."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not 0 <= self.start_minute < self.end_minute <= 1440:
            raise CampaignError(
                "a daily window must be HH:MM-HH:MM with start before end",
                code="campaign.window_order",
            )

    @classmethod
    def parse(cls, text: str) -> DailyWindow:
        m = _WINDOW_RE.match(text.strip())
        if not m:
            raise CampaignError(
                f"daily window {text!r} must look like '09:00-12:00'",
                code="campaign.window_format",
                params={"window": text},
            )
        return cls(int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4]))

    def contains(self, minute: float) -> bool:
        return self.start_minute <= minute < self.end_minute

    def __str__(self) -> str:
        s, e = self.start_minute, self.end_minute
        return f"{s // 60:02d}:{s % 60:02d}-{e // 60:02d}:{e % 60:02d}"


def effective_windows(
    campaign: Iterable[DailyWindow], rules: Window | None
) -> tuple[DailyWindow, ...]:
    """The campaign's windows cut to the rules' window (``None``: any time), merged and sorted.
    An empty result means the campaign can never dial under these rules."""
    lo, hi = (0, 1440) if rules is None else (rules.start_minute, rules.end_minute)
    cut = sorted(
        (max(w.start_minute, lo), min(w.end_minute, hi))
        for w in campaign
        if max(w.start_minute, lo) < min(w.end_minute, hi)
    )
    merged: list[list[int]] = []
    for s, e in cut:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    return tuple(DailyWindow(s, e) for s, e in merged)


def minute_of_day(local: datetime) -> float:
    return local.hour * 60 + local.minute + local.second / 60 + local.microsecond / 6e7


def next_open(local: datetime, windows: tuple[DailyWindow, ...]) -> datetime | None:
    """``local`` itself if it is inside a window, else the next window start (same zone);
    ``None`` without windows. Wall-clock arithmetic in the zone of ``local``."""
    if not windows:
        return None
    m = minute_of_day(local)
    if any(w.contains(m) for w in windows):
        return local
    day = local.replace(hour=0, minute=0, second=0, microsecond=0)
    for w in windows:
        if w.start_minute > m:
            return day + timedelta(minutes=w.start_minute)
    return day + timedelta(days=1, minutes=windows[0].start_minute)


class Disposition(StrEnum):
    """What became of one attempt (telephony outcomes, then the flow's own)."""

    ANSWERED = "answered"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    REJECTED = "rejected"  # SIP 603 Decline / CALL_REJECTED: never again
    FAILED = "failed"
    INVALID_NUMBER = "invalid_number"
    CONSENT_GRANTED = "consent_granted"
    REFUSED = "refused"
    COMPLETED = "completed"
    ESCALATED = "escalated"
    ABANDONED = "abandoned"  # answered, no agent free in the allowed seconds: told, called back
    # not a call: the dialler did not (or will not) dial
    DNC = "dnc"  # on the do-not-call list (a refusal anywhere): never again
    NOT_ALLOWED = "not_allowed"  # the gate denied with no time to retry at
    STOPPED = "stopped"  # the campaign was stopped or finished before this attempt
    UNKNOWN = "unknown"  # the dialler died after sending the originate: never redialled


FINAL = frozenset(
    {
        Disposition.REJECTED,
        Disposition.INVALID_NUMBER,
        Disposition.REFUSED,
        Disposition.DNC,
        Disposition.NOT_ALLOWED,
        Disposition.CONSENT_GRANTED,
        Disposition.COMPLETED,
        Disposition.ESCALATED,
        Disposition.ANSWERED,
        Disposition.STOPPED,
        Disposition.UNKNOWN,
    }
)
"""Outcomes after which the number is not dialled again in this campaign."""

_CAUSES: Mapping[str, Disposition] = {
    "NORMAL_CLEARING": Disposition.ANSWERED,
    "USER_BUSY": Disposition.BUSY,
    "NO_ANSWER": Disposition.NO_ANSWER,
    "NO_USER_RESPONSE": Disposition.NO_ANSWER,
    "SUBSCRIBER_ABSENT": Disposition.NO_ANSWER,
    "ALLOTTED_TIMEOUT": Disposition.NO_ANSWER,
    "PROGRESS_TIMEOUT": Disposition.NO_ANSWER,
    "RECOVERY_ON_TIMER_EXPIRE": Disposition.NO_ANSWER,
    "CALL_REJECTED": Disposition.REJECTED,
    "UNALLOCATED_NUMBER": Disposition.INVALID_NUMBER,
    "NO_ROUTE_DESTINATION": Disposition.INVALID_NUMBER,
    "NO_ROUTE_TRANSIT_NET": Disposition.INVALID_NUMBER,
    "INVALID_NUMBER_FORMAT": Disposition.INVALID_NUMBER,
    "NUMBER_CHANGED": Disposition.INVALID_NUMBER,
    "INCOMPATIBLE_DESTINATION": Disposition.INVALID_NUMBER,
}


def disposition_for_cause(cause: str | None, *, answered: bool) -> Disposition:
    """The disposition of a leg that ended with hangup ``cause``. An answered leg is
    ``answered`` whatever the cause (the flow's outcome refines it)."""
    if answered:
        return Disposition.ANSWERED
    return _CAUSES.get((cause or "").strip().upper(), Disposition.FAILED)


def disposition_for_flow(ended_reason: str | None, *, consent_granted: bool) -> Disposition:
    """The flow's outcome of an answered call: ``call_ended``'s reason (``refused``,
    ``completed``, ``transferred_<queue>``, ``caller_hangup``...) and whether consent was
    granted in the call. A refusal wins over consent given earlier in the call."""
    reason = ended_reason or ""
    if reason == "refused":
        return Disposition.REFUSED
    if reason == "abandoned":
        return Disposition.ABANDONED
    if reason.startswith("transferred_"):
        return Disposition.ESCALATED
    if consent_granted:
        return Disposition.CONSENT_GRANTED
    if reason == "completed":
        return Disposition.COMPLETED
    return Disposition.ANSWERED


@dataclass(frozen=True, slots=True)
class RetryRule:
    """Dial again after ``delay_s``, at most ``count`` more times for this outcome."""

    delay_s: int
    count: int

    def __post_init__(self) -> None:
        if self.delay_s < 0 or self.count < 0:
            raise CampaignError(
                "retry delay and count must not be negative", code="campaign.retry_negative"
            )


RETRYABLE = (Disposition.BUSY, Disposition.NO_ANSWER, Disposition.FAILED, Disposition.ABANDONED)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Per retryable outcome (busy, no_answer, failed, abandoned) a :class:`RetryRule`; an
    abandoned call (agent campaigns) is called back like this, the gate deciding at dial time."""

    rules: Mapping[Disposition, RetryRule] = field(
        default_factory=lambda: {
            Disposition.BUSY: RetryRule(600, 2),
            Disposition.NO_ANSWER: RetryRule(1800, 2),
            Disposition.FAILED: RetryRule(300, 1),
            Disposition.ABANDONED: RetryRule(900, 2),
        }
    )

    def __post_init__(self) -> None:
        for outcome in self.rules:
            if outcome not in RETRYABLE:
                raise CampaignError(
                    f"{outcome.value} is never retried",
                    code="campaign.retry_never",
                    params={"outcome": outcome.value},
                )

    def as_dict(self) -> dict[str, dict[str, int]]:
        return {d.value: {"delay_s": r.delay_s, "count": r.count} for d, r in self.rules.items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, int]]) -> RetryPolicy:
        try:
            return cls(
                {
                    Disposition(k): RetryRule(int(v["delay_s"]), int(v["count"]))
                    for k, v in data.items()
                }
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CampaignError(
                f"bad retry policy: {exc}",
                code="campaign.retry_policy",
                params={"detail": str(exc)},
            ) from exc


def next_attempt_at(
    policy: RetryPolicy,
    disposition: Disposition,
    *,
    previous: Iterable[Disposition],
    attempts_made: int,
    max_attempts: int,
    ended_at: datetime,
    gate_retry_after: datetime | None = None,
) -> datetime | None:
    """When to dial the number again after an attempt ended with ``disposition`` (``previous``:
    the dispositions of every dialled attempt so far, this one included), or ``None``: never.
    Final outcomes, the attempt budget and the per-outcome count all stop it; otherwise the
    later of the policy delay and the gate's ``retry_after``."""
    if disposition in FINAL or attempts_made >= max_attempts:
        return None
    rule = policy.rules.get(disposition)
    if rule is None:
        return None
    retries_so_far = sum(1 for d in previous if d is disposition) - 1
    if retries_so_far >= rule.count:
        return None
    at = ended_at + timedelta(seconds=rule.delay_s)
    if gate_retry_after is not None and gate_retry_after > at:
        at = gate_retry_after
    return at
