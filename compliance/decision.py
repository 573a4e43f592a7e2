"""The gate's pure decision function: ``decide(request, facts, rules, now) -> Decision``.

No IO and no clock: the caller supplies the facts the stores returned (DNC, DND windows, today's
count, consent on file, whether the store answered) and ``now``. Every reason that denies is
reported, and when only time-bound reasons deny (``quiet_hours``, ``daily_cap``, ``dnd``)
``retry_after`` is the earliest instant the same call would be allowed, for requeueing.

Semantics: the call window is ``[start, end)`` in callee local time (08:00:00 allowed, 22:00:00
denied). A number whose data spans several zones must be inside the window in every one; the
calendar day of the daily cap and DND windows use the first (primary) zone. A customer profile
zone, when valid, replaces the number's zones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from enum import StrEnum
from zoneinfo import ZoneInfo

from compliance.numbers import Number, parse_number, zone_or_none
from compliance.rules import ConsentMode, PurposePolicy, RuleSet, Window

_MAX_RETRY_STEPS = 64


class Reason(StrEnum):
    """Why the gate denied a call."""

    DNC = "dnc"
    QUIET_HOURS = "quiet_hours"
    DAILY_CAP = "daily_cap"
    DND = "dnd"
    NO_CONSENT = "no_consent"
    INVALID_NUMBER = "invalid_number"
    UNKNOWN_PURPOSE = "unknown_purpose"
    STORE_UNAVAILABLE = "store_unavailable"


TIME_BOUND = frozenset({Reason.QUIET_HOURS, Reason.DAILY_CAP, Reason.DND})
_DND_RE = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]|24):([0-5]\d)$")


@dataclass(frozen=True, slots=True)
class DndWindow:
    """A customer DND window in callee local time, ``[start, end)``; may wrap midnight."""

    start_minute: int
    end_minute: int

    def __post_init__(self) -> None:
        if not (0 <= self.start_minute < 1440 and 0 <= self.end_minute <= 1440):
            raise ValueError("DND minutes out of range")
        if self.start_minute == self.end_minute % 1440:
            raise ValueError("a DND window must not be empty or the whole day")

    @classmethod
    def parse(cls, text: str) -> DndWindow:
        """``"12:00-13:30"`` or ``"21:00-09:00"`` (wrapping)."""
        m = _DND_RE.match(text.strip())
        if not m:
            raise ValueError("DND window must look like 'HH:MM-HH:MM'")
        return cls(int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4]))

    def contains(self, seconds_of_day: float) -> bool:
        s, e = self.start_minute * 60, self.end_minute * 60
        if s < e:
            return s <= seconds_of_day < e
        return seconds_of_day >= s or seconds_of_day < e

    def __str__(self) -> str:
        return (
            f"{self.start_minute // 60:02d}:{self.start_minute % 60:02d}-"
            f"{self.end_minute // 60:02d}:{self.end_minute % 60:02d}"
        )


@dataclass(frozen=True, slots=True)
class GateRequest:
    """One attempt to call a number. ``profile_tz``/``profile_region`` come from the customer."""

    number: str
    purpose: str
    attempt_id: str
    campaign: str | None = None
    profile_tz: str | None = None
    profile_region: str | None = None


@dataclass(frozen=True, slots=True)
class Facts:
    """What the stores said about the number (``store_ok=False`` when they did not answer)."""

    dnc: bool = False
    dnd_windows: tuple[DndWindow, ...] = ()
    count_today: int = 0
    consent_on_file: bool = False
    store_ok: bool = True


@dataclass(frozen=True, slots=True)
class Decision:
    """The gate's answer. ``counted`` is set by the service when the call was counted."""

    allowed: bool
    reasons: tuple[Reason, ...]
    rules_version: str
    purpose: str
    attempt_id: str
    retry_after: datetime | None = None
    campaign: str | None = None
    consent_mode: ConsentMode | None = None
    zone: str | None = None
    local_date: date | None = None
    daily_cap: int | None = None
    count_today: int | None = None
    masked_number: str | None = None
    counted: bool = False
    dry_run: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "reasons": [r.value for r in self.reasons],
            "rules_version": self.rules_version,
            "purpose": self.purpose,
            "campaign": self.campaign,
            "attempt_id": self.attempt_id,
            "retry_after": self.retry_after.isoformat() if self.retry_after else None,
            "consent_mode": self.consent_mode.value if self.consent_mode else None,
            "zone": self.zone,
            "local_date": self.local_date.isoformat() if self.local_date else None,
            "daily_cap": self.daily_cap,
            "count_today": self.count_today,
            "number": self.masked_number,
            "counted": self.counted,
            "dry_run": self.dry_run,
        }


@dataclass(frozen=True, slots=True)
class GateContext:
    """The pure part of a decision, computed before the stores are asked."""

    number: Number
    policy: PurposePolicy
    zones: tuple[ZoneInfo, ...]
    local_date: date  # in the primary zone
    window_ok: bool

    @property
    def primary(self) -> ZoneInfo:
        return self.zones[0]

    def seconds_of_day(self, now: datetime) -> float:
        return _seconds_of_day(now.astimezone(self.primary))


def _aware(now: datetime) -> datetime:
    return now if now.tzinfo is not None else now.replace(tzinfo=UTC)


def _seconds_of_day(local: datetime) -> float:
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


def _in_window(window: Window | None, local: datetime) -> bool:
    if window is None:
        return True
    t = _seconds_of_day(local)
    return window.start_minute * 60 <= t < window.end_minute * 60


def context_for(request: GateRequest, rules: RuleSet, now: datetime) -> GateContext | None:
    """Number, policy, zones and window check; ``None`` if the number or purpose is invalid."""
    now = _aware(now)
    number = parse_number(request.number, rules.default_zone)
    if number is None:
        return None
    policy = rules.policy_for(request.purpose, number.e164, number.country, request.profile_region)
    if policy is None:
        return None
    profile = zone_or_none(request.profile_tz)
    zones = (profile,) if profile is not None else tuple(ZoneInfo(z) for z in number.zones)
    window_ok = all(_in_window(policy.window, now.astimezone(z)) for z in zones)
    return GateContext(number, policy, zones, now.astimezone(zones[0]).date(), window_ok)


def decide(
    request: GateRequest,
    facts: Facts,
    rules: RuleSet,
    now: datetime,
    ctx: GateContext | None = None,
) -> Decision:
    """Decide one call attempt. Pure and total: never raises for bad input data.

    ``ctx`` is :func:`context_for` of the same arguments when the caller already has it.
    """
    now = _aware(now)
    base = {
        "rules_version": rules.version,
        "purpose": request.purpose,
        "attempt_id": request.attempt_id,
        "campaign": request.campaign,
    }
    number = parse_number(request.number, rules.default_zone)
    if number is None:
        return Decision(allowed=False, reasons=(Reason.INVALID_NUMBER,), **base)  # type: ignore[arg-type]
    if ctx is None:
        ctx = context_for(request, rules, now)
    if ctx is None:
        return Decision(
            allowed=False,
            reasons=(Reason.UNKNOWN_PURPOSE,),
            masked_number=number.masked,
            **base,  # type: ignore[arg-type]
        )
    policy = ctx.policy
    reasons: list[Reason] = []
    if not facts.store_ok:
        reasons.append(Reason.STORE_UNAVAILABLE)
    if facts.dnc:
        reasons.append(Reason.DNC)
    if not ctx.window_ok:
        reasons.append(Reason.QUIET_HOURS)
    local_secs = ctx.seconds_of_day(now)
    if any(w.contains(local_secs) for w in facts.dnd_windows):
        reasons.append(Reason.DND)
    if facts.store_ok and facts.count_today >= policy.daily_cap:
        reasons.append(Reason.DAILY_CAP)
    if policy.consent is ConsentMode.BEFORE_DIAL and not facts.consent_on_file:
        reasons.append(Reason.NO_CONSENT)
    retry_after = None
    if reasons and all(r in TIME_BOUND for r in reasons):
        retry_after = earliest_allowed(
            now,
            ctx.zones,
            policy.window,
            facts.dnd_windows,
            capped=Reason.DAILY_CAP in reasons,
            cap_is_zero=policy.daily_cap == 0,
        )
    return Decision(
        allowed=not reasons,
        reasons=tuple(reasons),
        retry_after=retry_after,
        consent_mode=policy.consent,
        zone=ctx.primary.key,
        local_date=ctx.local_date,
        daily_cap=policy.daily_cap,
        count_today=facts.count_today if facts.store_ok else None,
        masked_number=number.masked,
        **base,  # type: ignore[arg-type]
    )


def _at_local(day: date, minute: int, zone: ZoneInfo) -> datetime:
    extra_days, minute = divmod(minute, 1440)
    local = datetime.combine(day + timedelta(days=extra_days), dtime(minute // 60, minute % 60))
    return local.replace(tzinfo=zone).astimezone(UTC)


def earliest_allowed(
    now: datetime,
    zones: tuple[ZoneInfo, ...],
    window: Window | None,
    dnd: tuple[DndWindow, ...],
    *,
    capped: bool,
    cap_is_zero: bool = False,
) -> datetime | None:
    """The first instant >= ``now`` outside quiet hours, DND and (if ``capped``) today.

    ``None`` when there is no such instant (a zero cap, or windows that never overlap).
    """
    if cap_is_zero:
        return None
    primary = zones[0]
    t = _aware(now).astimezone(UTC)
    floor = None
    if capped:
        floor = _at_local(t.astimezone(primary).date(), 1440, primary)
    for _ in range(_MAX_RETRY_STEPS):
        nxt = t
        if floor is not None and t < floor:
            nxt = floor
        else:
            for z in zones:
                local = t.astimezone(z)
                if not _in_window(window, local):
                    assert window is not None
                    day = local.date()
                    if _seconds_of_day(local) >= window.start_minute * 60:
                        day += timedelta(days=1)
                    nxt = _at_local(day, window.start_minute, z)
                    break
            else:
                local = t.astimezone(primary)
                secs = _seconds_of_day(local)
                for w in dnd:
                    if w.contains(secs):
                        day = local.date()
                        if w.end_minute * 60 <= secs:
                            day += timedelta(days=1)
                        nxt = _at_local(day, w.end_minute, primary)
                        break
        if nxt == t:
            return t
        t = nxt if nxt > t else t + timedelta(minutes=1)
    return None
