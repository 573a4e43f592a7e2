"""The pure campaign model (issue 14 items 1 and 3): windows cut by the rules, hangup causes
and flow outcomes to dispositions, the retry policy per outcome, the state machine."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from campaigns.model import (
    FINAL,
    CampaignError,
    CampaignState,
    DailyWindow,
    Disposition,
    RetryPolicy,
    RetryRule,
    disposition_for_cause,
    disposition_for_flow,
    effective_windows,
    next_attempt_at,
    next_open,
    transition,
)
from campaigns.spec import CampaignSpec
from compliance.rules import Window

W = DailyWindow.parse


@pytest.mark.parametrize(
    ("campaign", "rules", "expected"),
    [
        (["07:00-23:00"], ("08:00", "22:00"), ["08:00-22:00"]),  # never wider than the rules
        (["09:00-12:00", "14:00-18:00"], ("08:00", "22:00"), ["09:00-12:00", "14:00-18:00"]),
        (["06:00-07:30"], ("08:00", "22:00"), []),  # entirely outside: cannot dial
        (["21:00-24:00"], ("08:00", "22:00"), ["21:00-22:00"]),
        (["09:00-12:00", "11:00-13:00"], None, ["09:00-13:00"]),  # overlaps merged
        (["00:00-24:00"], None, ["00:00-24:00"]),
    ],
)
def test_campaign_windows_are_cut_to_the_rules_window(campaign, rules, expected) -> None:
    window = Window(start=rules[0], end=rules[1]) if rules else None
    got = effective_windows([W(w) for w in campaign], window)
    assert [str(w) for w in got] == expected


def test_next_open_in_the_callee_zone() -> None:
    windows = (W("08:00-22:00"),)
    sh = ZoneInfo("Asia/Shanghai")
    inside = datetime(2026, 3, 2, 21, 59, tzinfo=sh)
    assert next_open(inside, windows) == inside
    late = datetime(2026, 3, 2, 22, 0, tzinfo=sh)  # 22:00 is outside ([start, end))
    assert next_open(late, windows) == datetime(2026, 3, 3, 8, 0, tzinfo=sh)
    early = datetime(2026, 3, 3, 6, 30, tzinfo=sh)
    assert next_open(early, windows) == datetime(2026, 3, 3, 8, 0, tzinfo=sh)
    split = (W("09:00-12:00"), W("14:00-18:00"))
    lunch = datetime(2026, 3, 3, 12, 30, tzinfo=sh)
    assert next_open(lunch, split) == datetime(2026, 3, 3, 14, 0, tzinfo=sh)
    assert next_open(lunch, ()) is None


@pytest.mark.parametrize(
    ("cause", "answered", "disposition"),
    [
        ("USER_BUSY", False, Disposition.BUSY),
        ("NO_ANSWER", False, Disposition.NO_ANSWER),
        ("NO_USER_RESPONSE", False, Disposition.NO_ANSWER),
        ("CALL_REJECTED", False, Disposition.REJECTED),  # SIP 603 Decline
        ("UNALLOCATED_NUMBER", False, Disposition.INVALID_NUMBER),
        ("NO_ROUTE_DESTINATION", False, Disposition.INVALID_NUMBER),
        ("NORMAL_TEMPORARY_FAILURE", False, Disposition.FAILED),
        ("DESTINATION_OUT_OF_ORDER", False, Disposition.FAILED),
        ("", False, Disposition.FAILED),
        (None, False, Disposition.FAILED),
        ("NORMAL_CLEARING", True, Disposition.ANSWERED),
        ("USER_BUSY", True, Disposition.ANSWERED),
    ],
)
def test_hangup_causes_map_to_dispositions(cause, answered, disposition) -> None:
    assert disposition_for_cause(cause, answered=answered) is disposition


@pytest.mark.parametrize(
    ("reason", "consent", "disposition"),
    [
        ("refused", False, Disposition.REFUSED),
        ("refused", True, Disposition.REFUSED),  # a refusal after consent still refuses
        ("transferred_general", False, Disposition.ESCALATED),
        ("completed", True, Disposition.CONSENT_GRANTED),
        ("completed", False, Disposition.COMPLETED),
        ("caller_hangup", False, Disposition.ANSWERED),
        (None, False, Disposition.ANSWERED),
    ],
)
def test_flow_outcomes_map_to_dispositions(reason, consent, disposition) -> None:
    assert disposition_for_flow(reason, consent_granted=consent) is disposition


T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
POLICY = RetryPolicy(
    {
        Disposition.BUSY: RetryRule(600, 2),
        Disposition.NO_ANSWER: RetryRule(1800, 1),
        Disposition.FAILED: RetryRule(60, 1),
    }
)


def _next(d: Disposition, previous: list[Disposition], made: int, max_attempts: int = 5,
          gate: datetime | None = None) -> datetime | None:  # fmt: skip
    return next_attempt_at(
        POLICY, d, previous=previous, attempts_made=made, max_attempts=max_attempts,
        ended_at=T0, gate_retry_after=gate,
    )  # fmt: skip


def test_retry_delay_and_count_per_outcome() -> None:
    b = Disposition.BUSY
    assert _next(b, [b], 1) == T0 + timedelta(seconds=600)
    assert _next(b, [b, b], 2) == T0 + timedelta(seconds=600)
    assert _next(b, [b, b, b], 3) is None  # two retries for busy, then no more
    n = Disposition.NO_ANSWER
    assert _next(n, [b, n], 2) == T0 + timedelta(seconds=1800)  # counts are per outcome
    assert _next(n, [n, n], 2) is None
    assert _next(b, [b], 1, max_attempts=1) is None  # the attempt budget wins


def test_retry_waits_for_the_gate_when_later() -> None:
    later = T0 + timedelta(hours=10)
    assert _next(Disposition.BUSY, [Disposition.BUSY], 1, gate=later) == later
    sooner = T0 + timedelta(seconds=1)
    assert _next(Disposition.BUSY, [Disposition.BUSY], 1, gate=sooner) == T0 + timedelta(
        seconds=600
    )


@pytest.mark.parametrize("final", sorted(FINAL))
def test_final_outcomes_are_never_retried(final: Disposition) -> None:
    assert _next(final, [final], 1) is None


def test_603_and_refusal_cannot_be_given_a_retry_rule() -> None:
    for never in (Disposition.REJECTED, Disposition.REFUSED, Disposition.INVALID_NUMBER):
        with pytest.raises(CampaignError):
            RetryPolicy({never: RetryRule(60, 1)})
    assert RetryPolicy.from_dict(POLICY.as_dict()) == POLICY


def test_state_machine() -> None:
    s = transition(CampaignState.DRAFT, "start")
    assert s is CampaignState.RUNNING
    assert transition(s, "pause") is CampaignState.PAUSED
    assert transition(CampaignState.PAUSED, "resume") is CampaignState.RUNNING
    assert transition(CampaignState.PAUSED, "stop") is CampaignState.STOPPED
    for bad_state, action in [
        (CampaignState.STOPPED, "start"),
        (CampaignState.STOPPED, "resume"),
        (CampaignState.DRAFT, "pause"),
        (CampaignState.FINISHED, "stop"),
    ]:
        with pytest.raises(CampaignError):
            transition(bad_state, action)
    with pytest.raises(CampaignError):
        transition(CampaignState.DRAFT, "explode")


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"name": ""}, "name"),
        ({"caller_ids": ()}, "caller ID pool"),
        ({"caller_ids": ("95588;drop",)}, "caller ID"),
        ({"windows": ()}, "window"),
        ({"max_attempts": 0}, "attempts"),
        ({"max_cps": 0}, "calls-per-second"),
        ({"max_concurrency": 0}, "concurrency"),
    ],
)
def test_bad_campaign_specs_are_refused(change, why) -> None:
    base = {"name": "spring", "flow_id": "outbound_marketing", "purpose": "marketing",
            "caller_ids": ("95588",)}  # fmt: skip
    with pytest.raises(CampaignError, match=why):
        CampaignSpec(**{**base, **change})
    with pytest.raises(CampaignError):
        DailyWindow.parse("22:00-08:00")  # windows do not wrap midnight
