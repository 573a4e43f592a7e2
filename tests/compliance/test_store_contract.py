"""One contract for every gate store: SQLite, PostgreSQL and Redis (inv1, inv3, inv8, inv9)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from helpers.clock import FakeClock
from helpers.evidence import MemorySink
from helpers.numbers import customer, fresh_number

from compliance.decision import GateRequest, Reason
from compliance.service import ComplianceService

Svc = tuple[ComplianceService, MemorySink, FakeClock]


def req(number: str, purpose: str = "marketing", attempt: str | None = None) -> GateRequest:
    return GateRequest(number, purpose, attempt or uuid.uuid4().hex, campaign="c1")


async def test_inv9_cap_counts_to_three_then_denies(svc_any: Svc) -> None:
    svc, _, clock = svc_any
    n = fresh_number()
    results = [await svc.check_and_count(req(n)) for _ in range(5)]
    assert [d.allowed for d in results] == [True, True, True, False, False]
    assert all(d.counted for d in results[:3]) and not any(d.counted for d in results[3:])
    assert results[3].reasons == (Reason.DAILY_CAP,)
    # retry_after: the cap resets at local midnight, the window opens at 08:00 Shanghai
    assert results[3].retry_after == clock.now.replace(hour=0) + timedelta(days=1)
    clock.now += timedelta(days=1)
    assert (await svc.check_and_count(req(n))).allowed


async def test_inv9_cap_is_shared_across_purposes_and_campaigns(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    for purpose in ("marketing", "service", "marketing"):
        assert (await svc.check_and_count(req(n, purpose))).allowed
    assert (await svc.check_and_count(req(n, "service"))).reasons == (Reason.DAILY_CAP,)


async def test_inv1_same_attempt_id_counts_once(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    first = await svc.check_and_count(req(n, attempt="a-1"))
    again = await svc.check_and_count(req(n, attempt="a-1"))
    assert first.allowed and again.allowed and again.counted
    assert (await svc.check_and_count(req(n))).allowed
    assert (await svc.check_and_count(req(n))).allowed
    assert not (await svc.check_and_count(req(n))).allowed


async def test_inv1_replay_after_dnc_is_denied(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    assert (await svc.check_and_count(req(n, attempt="a-2"))).allowed
    await svc.add_dnc(customer(n), source="refusal", reason="客户拒绝", actor="bot")
    replay = await svc.check_and_count(req(n, attempt="a-2"))
    assert not replay.allowed and Reason.DNC in replay.reasons


async def test_inv3_dnc_denies_and_is_not_counted(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    await svc.add_dnc(
        customer(n), source="refusal", reason="客户拒绝", actor="bot", call_id="call-1"
    )
    d = await svc.check_and_count(req(n))
    assert not d.allowed and d.reasons == (Reason.DNC,) and d.retry_after is None
    assert not d.counted
    assert await svc.is_dnc(customer(n))


async def test_inv8_dnd_window_denies_with_retry_after(svc_any: Svc) -> None:
    svc, _, clock = svc_any
    n = fresh_number()
    await svc.set_dnd(customer(n), ["11:30-13:00"])  # now is 12:00 Shanghai
    d = await svc.check_and_count(req(n))
    assert d.reasons == (Reason.DND,) and not d.counted
    assert d.retry_after == clock.now + timedelta(hours=1)
    await svc.set_dnd(customer(n), [])
    assert (await svc.check_and_count(req(n))).allowed


async def test_dry_run_never_counts(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    for _ in range(5):
        d = await svc.dry_run(req(n))
        assert d.allowed and d.dry_run and not d.counted
    for _ in range(3):
        assert (await svc.check_and_count(req(n))).allowed
    assert (await svc.dry_run(req(n))).reasons == (Reason.DAILY_CAP,)


async def test_quiet_hours_deny_without_counting(svc_any: Svc) -> None:
    svc, _, clock = svc_any
    n = fresh_number()
    clock.now = clock.now.replace(hour=15)  # 23:00 Shanghai
    d = await svc.check_and_count(req(n))
    assert d.reasons == (Reason.QUIET_HOURS,) and not d.counted
    clock.now = clock.now.replace(hour=4)  # 12:00
    for _ in range(3):
        assert (await svc.check_and_count(req(n))).allowed


async def test_inv5_before_dial_consent(svc_any: Svc) -> None:
    svc, _, clock = svc_any
    n = fresh_number()
    d = await svc.check_and_count(req(n, "loans"))
    assert d.reasons == (Reason.NO_CONSENT,) and d.retry_after is None and not d.counted
    await svc.grant_consent(customer(n), purpose="loans", scope="personal loans", channel="call")
    assert (await svc.check_and_count(req(n, "loans"))).allowed
    clock.now += timedelta(days=31)  # consent_valid_days: 30
    assert (await svc.check_and_count(req(n, "loans"))).reasons == (Reason.NO_CONSENT,)


async def test_invalid_number_denied_without_store(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    for bad in ("", "12345", "not a number", "+86 000", "9" * 40):
        d = await svc.check_and_count(req(bad))
        assert d.reasons == (Reason.INVALID_NUMBER,) and not d.allowed


async def test_remove_dnc_restores_calls(svc_any: Svc) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    await svc.add_dnc(customer(n), source="refusal", reason="no", actor="bot")
    assert await svc.remove_dnc(
        customer(n), actor="alice", actor_role="compliance_officer", reason="误登记"
    )
    assert (await svc.check_and_count(req(n))).allowed


@pytest.mark.parametrize("count", [1])
async def test_decisions_are_logged_with_rules_version(svc_any: Svc, count: int) -> None:
    svc, _, _ = svc_any
    n = fresh_number()
    d = await svc.check_and_count(req(n, attempt="log-me-" + uuid.uuid4().hex))
    await svc.flush()
    rows = svc.ledger.decisions_for(d.attempt_id)
    assert len(rows) == count
    assert rows[0]["rules_version"] == "t-1" and rows[0]["counted"] is True
    decided = rows[0]["decided_at"]  # written pre-encoded; read back through SQLAlchemy
    assert isinstance(decided, datetime)
    decided_utc = decided if decided.tzinfo else decided.replace(tzinfo=UTC)
    assert abs(decided_utc - svc.clock()) < timedelta(seconds=5)
    assert n not in str(rows[0]) and n[3:] not in str(rows[0])
