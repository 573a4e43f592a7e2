"""The service: fail closed (inv2), DNC permanence and races (inv1, inv3), consent (inv5)."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid

import pytest
import sqlalchemy as sa
from cmp_support import SH_NOON, build
from helpers.clock import FakeClock
from helpers.evidence import MemorySink
from helpers.numbers import customer, fresh_number
from helpers.redis_server import ThrowawayRedis

from compliance.consent_policy import (
    AnswerContext,
    CallerAnswer,
    NluResult,
    Question,
    decide_answer,
)
from compliance.decision import GateRequest, Reason
from compliance.redis_store import RedisGateStore
from compliance.service import ComplianceService, InvalidRequestError, mask_transcript
from compliance.sql_gate import SqlGateStore
from ivr.errors import NotAuthorizedError
from ivr.evidence import EvidenceKind
from ivr.phone import customer_number


def req(number: str, purpose: str = "marketing") -> GateRequest:
    return GateRequest(number, purpose, uuid.uuid4().hex)


def broken(engine: sa.Engine) -> sa.Engine:
    """The same database, with every table looked up in a schema that does not exist."""
    return engine.execution_options(schema_translate_map={None: "nope"})


async def test_inv2_redis_stopped_mid_run_fails_closed_then_recovers(
    sqlite_url: str, throwaway_redis: ThrowawayRedis
) -> None:
    svc, _ = build(sqlite_url, "redis", prefix="t", redis_url=throwaway_redis.url, timeout_s=0.2)
    await svc.start(watch=False)
    try:
        blocked, free = fresh_number(), fresh_number()
        await svc.add_dnc(customer(blocked), source="refusal", reason="不要再打", actor="bot")
        assert (await svc.check_and_count(req(free))).allowed
        throwaway_redis.stop()
        decisions = await asyncio.gather(
            *(svc.check_and_count(req(n)) for n in [blocked, free] * 10)
        )
        assert all(d.reasons == (Reason.STORE_UNAVAILABLE,) for d in decisions)
        assert not any(d.allowed or d.counted for d in decisions)
        assert (await svc.dry_run(req(free))).reasons == (Reason.STORE_UNAVAILABLE,)
        # Redis comes back empty (no persistence): the DNC mirror is rebuilt from SQL.
        throwaway_redis.start()
        deadline = time.monotonic() + 10
        d = await svc.check_and_count(req(free))
        while d.reasons == (Reason.STORE_UNAVAILABLE,) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            d = await svc.check_and_count(req(free))
        assert d.allowed
        assert (await svc.check_and_count(req(blocked))).reasons == (Reason.DNC,)
    finally:
        await svc.close()


async def test_inv2_unreachable_redis_at_start_never_raises(sqlite_url: str) -> None:
    svc, _ = build(
        sqlite_url, "redis", prefix="t", redis_url="redis://127.0.0.1:1/0", timeout_s=0.2
    )
    await svc.start(watch=False)
    d = await svc.check_and_count(req(fresh_number()))
    assert d.reasons == (Reason.STORE_UNAVAILABLE,) and not d.allowed
    await svc.close()


async def test_inv2_sql_store_error_fails_closed(sqlite_url: str) -> None:
    svc, _ = build(sqlite_url, "sql")
    assert isinstance(svc.gate_store, SqlGateStore)
    svc.gate_store.engine.dispose()
    svc.gate_store.engine = broken(svc.gate_store.engine)
    d = await svc.check_and_count(req(fresh_number()))
    assert d.reasons == (Reason.STORE_UNAVAILABLE,)
    await svc.close()


async def test_inv2_full_decision_log_backlog_denies_instead_of_dropping_rows(
    sqlite_url: str,
) -> None:
    svc, _ = build(sqlite_url, "sql")
    healthy = svc.ledger.log_engine
    svc.ledger.log_engine = sa.create_engine(f"sqlite:////nonexistent-{uuid.uuid4().hex}/x.db")
    svc.decisions.max_backlog = 5
    for _ in range(5):  # invalid numbers: decided without a store, logged (and kept queued)
        assert (await svc.check_and_count(req("12"))).reasons == (Reason.INVALID_NUMBER,)
    d = await svc.check_and_count(req(fresh_number()))
    assert d.reasons == (Reason.STORE_UNAVAILABLE,) and not d.allowed and not d.counted
    await svc.flush()  # a write attempt fails: the rows stay queued
    assert svc.decisions.backlog == 5  # nothing dropped, nothing added
    svc.ledger.log_engine = healthy
    await svc.close()
    assert len(svc.ledger.decisions_for(d.attempt_id)) == 0  # the denial was never queued


@pytest.mark.parametrize("backend", ["redis", "sql"])
async def test_inv1_dnc_added_while_100_attempts_in_flight(
    backend: str, sqlite_url: str, redis_prefix: str
) -> None:
    svc, _ = build(sqlite_url, backend, prefix=f"{redis_prefix}:{uuid.uuid4().hex[:6]}")
    await svc.start(watch=False)
    n = fresh_number()
    acked = asyncio.Event()
    twenty_done = asyncio.Event()
    acked_at: list[float] = []
    done = 0

    async def attempt(i: int) -> tuple[float, bool]:
        nonlocal done
        if i >= 60:  # the last 40 are queued behind the refusal
            await acked.wait()
        started = time.monotonic()
        d = await svc.check_and_count(req(n, "bulk"))  # cap 100: only DNC can deny
        done += 1
        if done == 20:
            twenty_done.set()
        return started, d.allowed

    async def refuse() -> None:
        await twenty_done.wait()  # the refusal lands while attempts are in flight
        await svc.add_dnc(customer(n), source="refusal", reason="拒绝", actor="bot")
        acked_at.append(time.monotonic())
        acked.set()

    results, _ = await asyncio.gather(asyncio.gather(*(attempt(i) for i in range(100))), refuse())
    after = [allowed for started, allowed in results if started > acked_at[0]]
    assert len(after) >= 40
    assert not any(after)
    assert any(allowed for _, allowed in results)  # the ones before were dialable
    await svc.close()


async def test_inv3_dnc_removal_needs_officer_and_reason_and_is_evidence(
    sqlite_url: str,
) -> None:
    svc, sink = build(sqlite_url, "sql")
    n = fresh_number()
    entry = await svc.add_dnc(
        customer(n), source="refusal", reason="r", actor="bot", call_id="call-9"
    )
    again = await svc.add_dnc(customer(n), source="agent", reason="again", actor="agent-7")
    assert again == entry  # idempotent: the first entry stays
    with pytest.raises(NotAuthorizedError):
        await svc.remove_dnc(customer(n), actor="bob", actor_role="agent", reason="please")
    with pytest.raises(InvalidRequestError):
        await svc.remove_dnc(
            customer(n), actor="alice", actor_role="compliance_officer", reason=" "
        )
    assert await svc.is_dnc(customer(n))
    assert await svc.remove_dnc(
        customer(n), actor="alice", actor_role="compliance_officer", reason="误登"
    )
    assert not await svc.is_dnc(customer(n))
    assert sink.kinds() == [EvidenceKind.DNC_ADDED, EvidenceKind.DNC_REMOVED]
    removed = sink.entries[1][2]
    assert removed["actor_role"] == "compliance_officer" and removed["reason"] == "误登"
    events = svc.ledger.dnc_events(svc.index("+" + n.lstrip("+")))
    assert [e["action"] for e in events] == ["add", "remove"]
    assert n[1:] not in repr(sink.entries) and n[3:] not in repr(events)
    await svc.close()


async def test_inv3_a_new_dnc_entry_is_evidence_once_on_every_store(
    svc_any: tuple[ComplianceService, MemorySink, FakeClock],
) -> None:
    # regression: on PostgreSQL (psycopg 3) the INSERT's rowcount is -1, which made every new
    # entry look like a repeat: no dnc_events row and no dnc_added evidence
    svc, sink, _ = svc_any
    n = customer(fresh_number())
    await svc.add_dnc(n, source="refusal", reason="r", actor="bot")
    await svc.add_dnc(n, source="agent", reason="again", actor="agent-7")
    assert sink.kinds().count(EvidenceKind.DNC_ADDED) == 1


async def test_inv5_consent_ledger(sqlite_url: str) -> None:
    clock = FakeClock(SH_NOON)
    svc, sink = build(sqlite_url, "sql", clock=clock)
    n = fresh_number()
    assert not await svc.has_valid_consent(customer(n), "marketing")
    rec = await svc.grant_consent(
        customer(n),
        purpose="marketing",
        scope="信用卡分期产品",
        channel="call",
        call_id="call-1",
        recording_offset_ms=12_500,
        transcript_excerpt="可以，我同意。我的号码是13912345678",
    )
    assert rec.expires_at == clock.now.replace(month=4, day=9)  # 30 days
    assert await svc.has_valid_consent(customer(n), "marketing")
    assert not await svc.has_valid_consent(customer(n), "loans")
    [stored] = await svc.list_consents(customer(n))
    assert stored.call_id == "call-1" and stored.recording_offset_ms == 12_500
    assert stored.transcript_excerpt is not None and "13912345678" not in stored.transcript_excerpt
    assert (
        await svc.revoke_consent(
            customer(n), "marketing", actor="customer", channel="call", reason="x"
        )
        == 1
    )
    assert not await svc.has_valid_consent(customer(n), "marketing")
    assert sink.kinds() == [EvidenceKind.CONSENT_GRANTED, EvidenceKind.CONSENT_REVOKED]
    with pytest.raises(InvalidRequestError):
        await svc.grant_consent(customer(n), purpose="lottery", scope="s", channel="call")
    await svc.close()


def test_mask_transcript_masks_spoken_and_written_numbers() -> None:
    assert mask_transcript("号码幺三九一二三四五六七八") == "号码***********"
    assert mask_transcript("好的 123") == "好的 123"


@pytest.mark.parametrize("caller_id", ["anonymous", "", "1000", "garbage", "12"])
async def test_inv6_refusal_from_a_caller_without_a_usable_number_is_chained_evidence(
    sqlite_url: str, caller_id: str
) -> None:
    svc, sink = build(sqlite_url, "sql")
    assert customer_number(caller_id) is None  # made at the edge: no customer
    rules = svc.rules_at()
    heard = CallerAnswer(NluResult("refuse_contact", 0.97))
    decision = decide_answer(heard, AnswerContext(Question.OTHER, caller_identified=False), rules)
    refusal = await svc.record_refusal(
        None, source="call", reason="refused_contact", actor="ivr", call_id="c-1", decision=decision
    )
    assert refusal.dnc is None and not refusal.dnc_recorded
    [(kind, call_id, payload)] = sink.entries
    assert kind is EvidenceKind.REFUSAL_UNIDENTIFIED and call_id == "c-1"
    assert payload["dnc"] is False and "no usable caller number" in str(payload["why"])
    assert payload["rules_version"] == "t-1" and payload["policy_outcome"] == "refused"
    assert not await svc.is_dnc(None) and not await svc.has_valid_consent(None, "marketing")
    assert (await svc.check_and_count(req(caller_id))).reasons == (Reason.INVALID_NUMBER,)
    await svc.close()


async def test_inv6_refusal_from_a_known_number_goes_on_dnc_with_its_rules_version(
    sqlite_url: str,
) -> None:
    svc, sink = build(sqlite_url, "sql")
    n = fresh_number()
    refusal = await svc.record_refusal(customer(n), source="call", reason="refused", actor="ivr")
    assert refusal.dnc_recorded and await svc.is_dnc(customer(n))
    [(kind, _, payload)] = sink.entries
    assert kind is EvidenceKind.DNC_ADDED and payload["rules_version"] == "t-1"
    assert (await svc.check_and_count(req(n))).reasons == (Reason.DNC,)
    await svc.close()


async def test_logs_never_carry_the_number(
    sqlite_url: str, throwaway_redis: ThrowawayRedis, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    svc, _ = build(sqlite_url, "redis", prefix="t", redis_url=throwaway_redis.url, timeout_s=0.2)
    await svc.start(watch=False)
    n = fresh_number()
    await svc.add_dnc(customer(n), source="refusal", reason="r", actor="bot")
    await svc.check_and_count(req(n))
    throwaway_redis.stop()
    await svc.check_and_count(req(n))
    await svc.close()
    assert "DNC added 139****" in caplog.text
    assert n[3:] not in caplog.text and n[1:] not in caplog.text


async def test_resync_restores_lost_counters_from_the_decision_log(
    sqlite_url: str, throwaway_redis: ThrowawayRedis
) -> None:
    svc, _ = build(sqlite_url, "redis", prefix="t", redis_url=throwaway_redis.url)
    await svc.start(watch=False)
    n = fresh_number()
    for _ in range(3):
        assert (await svc.check_and_count(req(n))).allowed
    await svc.flush()
    throwaway_redis.stop()
    throwaway_redis.start()
    assert isinstance(svc.gate_store, RedisGateStore)
    assert not await svc.gate_store.is_synced()
    await svc.resync()
    assert (await svc.check_and_count(req(n))).reasons == (Reason.DAILY_CAP,)
    await svc.close()
