"""The pure decision function (inv1, inv5, inv8, inv9, inv13): examples and properties."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from cmp_support import rules_text
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.decision import DndWindow, Facts, GateRequest, Reason, decide
from compliance.rules import ConsentMode, parse_rules

RULES = parse_rules(rules_text(), "t.yaml")
SH = ZoneInfo("Asia/Shanghai")
CN = "+8613912345678"
NY = "+12125551234"  # America/New_York: has DST


def at(zone: ZoneInfo, y: int, mo: int, d: int, h: int, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=zone).astimezone(UTC)


def dec(number: str, now: datetime, purpose: str = "marketing", **facts: object) -> object:
    return decide(GateRequest(number, purpose, "a1"), Facts(**facts), RULES, now)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("hms", "allowed"),
    [((7, 59, 59), False), ((8, 0, 0), True), ((21, 59, 59), True), ((22, 0, 0), False)],
)
def test_inv8_window_boundaries_shanghai(hms: tuple[int, int, int], allowed: bool) -> None:
    d = decide(GateRequest(CN, "marketing", "a"), Facts(), RULES, at(SH, 2025, 6, 1, *hms))
    assert d.allowed is allowed
    assert d.reasons == (() if allowed else (Reason.QUIET_HOURS,))
    assert d.rules_version == "t-1"
    if not allowed:
        assert d.retry_after is not None
        assert d.retry_after.astimezone(SH).time().isoformat() == "08:00:00"


def test_inv8_number_outside_shanghai_uses_its_own_zone() -> None:
    ny = ZoneInfo("America/New_York")
    # 09:00 in New York is 21:00/22:00 in Shanghai: allowed for the New York number only
    now = at(ny, 2025, 1, 15, 9)
    assert decide(GateRequest(NY, "marketing", "a"), Facts(), RULES, now).allowed
    assert decide(GateRequest(CN, "marketing", "a"), Facts(), RULES, now).reasons == (
        Reason.QUIET_HOURS,
    )
    d = decide(GateRequest(NY, "marketing", "a"), Facts(), RULES, at(ny, 2025, 1, 15, 23))
    assert d.zone == "America/New_York"
    assert d.retry_after == at(ny, 2025, 1, 16, 8)


def test_inv8_dst_zone_boundaries_follow_local_time() -> None:
    ny = ZoneInfo("America/New_York")
    # 2025-03-09: clocks jump 02:00 -> 03:00; the window is still 08:00-22:00 local
    for day, offset in ((8, -5), (9, -4)):
        opening = datetime(2025, 3, day, 8, tzinfo=ny)
        assert opening.utcoffset() == timedelta(hours=offset)
        before = opening.astimezone(UTC) - timedelta(seconds=1)
        assert not decide(GateRequest(NY, "marketing", "a"), Facts(), RULES, before).allowed
        assert decide(GateRequest(NY, "marketing", "a"), Facts(), RULES, opening).allowed
    # retry_after across the DST change lands on 08:00 local (12:00 UTC, not 13:00)
    d = decide(GateRequest(NY, "marketing", "a"), Facts(), RULES, at(ny, 2025, 3, 8, 23))
    assert d.retry_after == datetime(2025, 3, 9, 12, tzinfo=UTC)


def test_profile_zone_wins_over_the_number() -> None:
    now = at(SH, 2025, 6, 1, 23)  # quiet in Shanghai; 17:00 in Berlin
    req = GateRequest(CN, "marketing", "a", profile_tz="Europe/Berlin")
    d = decide(req, Facts(), RULES, now)
    assert d.allowed and d.zone == "Europe/Berlin"
    bogus = GateRequest(CN, "marketing", "a", profile_tz="Mars/Olympus")
    assert not decide(bogus, Facts(), RULES, now).allowed


def test_every_reason_is_reported_and_no_retry_for_permanent_ones() -> None:
    now = at(SH, 2025, 6, 1, 23)
    d = decide(
        GateRequest(CN, "loans", "a"),
        Facts(dnc=True, count_today=3, dnd_windows=(DndWindow.parse("22:30-23:30"),)),
        RULES,
        now,
    )
    assert set(d.reasons) == {
        Reason.DNC,
        Reason.QUIET_HOURS,
        Reason.DND,
        Reason.DAILY_CAP,
        Reason.NO_CONSENT,
    }
    assert d.retry_after is None and not d.allowed


def test_in_call_consent_is_not_a_dial_condition() -> None:
    d = decide(GateRequest(CN, "marketing", "a"), Facts(), RULES, at(SH, 2025, 6, 1, 12))
    assert d.allowed and d.consent_mode is ConsentMode.IN_CALL


def test_store_unavailable_denies() -> None:
    d = dec(CN, at(SH, 2025, 6, 1, 12), store_ok=False)
    assert d.reasons == (Reason.STORE_UNAVAILABLE,)  # type: ignore[attr-defined]
    assert d.retry_after is None  # type: ignore[attr-defined]


def test_regional_override_is_stricter() -> None:
    rules = parse_rules(
        rules_text()
        + """overrides:
  - name: sh-landline
    match: {e164_prefixes: ["+8621"]}
    purposes: [marketing]
    window: {start: "09:00", end: "20:00"}
""",
        "t.yaml",
    )
    now = at(SH, 2025, 6, 1, 8, 30)
    assert not decide(GateRequest("+862162345678", "marketing", "a"), Facts(), rules, now).allowed
    assert decide(GateRequest(CN, "marketing", "a"), Facts(), rules, now).allowed


def test_unknown_purpose_denied() -> None:
    d = dec(CN, at(SH, 2025, 6, 1, 12), purpose="lottery")
    assert d.reasons == (Reason.UNKNOWN_PURPOSE,)  # type: ignore[attr-defined]


# --- properties -------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)
numbers = st.sampled_from(
    [CN, NY, "+862162345678", "+447911123456", "+4930123456", "+12065550100", "+61412345678"]
)
dnd = st.lists(
    st.tuples(st.integers(0, 1439), st.integers(1, 1440)).filter(lambda t: t[0] != t[1] % 1440),
    max_size=2,
).map(lambda ws: tuple(DndWindow(s, e) for s, e in ws))
facts = st.builds(
    Facts,
    dnc=st.booleans(),
    dnd_windows=dnd,
    count_today=st.integers(0, 5),
    consent_on_file=st.booleans(),
    store_ok=st.booleans(),
)
purposes = st.sampled_from(["marketing", "service", "loans", "bulk"])


@settings(max_examples=300, deadline=None)
@given(number=numbers, purpose=purposes, f=facts, now=instants)
def test_property_allowed_iff_no_reason(number: str, purpose: str, f: Facts, now: datetime) -> None:
    d = decide(GateRequest(number, purpose, "a"), f, RULES, now)
    assert d.allowed == (d.reasons == ())
    assert d.rules_version == RULES.version
    if f.dnc:
        assert Reason.DNC in d.reasons
    if not f.store_ok:
        assert not d.allowed
    if f.store_ok and f.count_today >= 3 and purpose != "bulk":
        assert Reason.DAILY_CAP in d.reasons
    if d.retry_after is not None:
        assert set(d.reasons) <= {Reason.QUIET_HOURS, Reason.DAILY_CAP, Reason.DND}
        assert d.retry_after >= now


@settings(max_examples=200, deadline=None)
@given(number=numbers, purpose=purposes, f=facts, now=instants)
def test_property_retry_after_is_allowed_then(
    number: str, purpose: str, f: Facts, now: datetime
) -> None:
    """At ``retry_after`` (with the cap reset on a new local day) the same call is allowed."""
    d = decide(GateRequest(number, purpose, "a"), f, RULES, now)
    if d.retry_after is None:
        return
    later_facts = Facts(
        dnc=f.dnc,
        dnd_windows=f.dnd_windows,
        count_today=0 if Reason.DAILY_CAP in d.reasons else f.count_today,
        consent_on_file=f.consent_on_file,
        store_ok=f.store_ok,
    )
    again = decide(GateRequest(number, purpose, "a"), later_facts, RULES, d.retry_after)
    assert again.allowed, (d.reasons, again.reasons)
    # and not a second earlier (it is the earliest instant)
    earlier = decide(
        GateRequest(number, purpose, "a"), f, RULES, d.retry_after - timedelta(seconds=1)
    )
    assert not earlier.allowed or d.retry_after == now


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=40), purpose=purposes, now=instants)
def test_property_never_crashes_on_garbage(raw: str, purpose: str, now: datetime) -> None:
    d = decide(GateRequest(raw, purpose, "a"), Facts(), RULES, now)
    assert d.allowed == (d.reasons == ())
