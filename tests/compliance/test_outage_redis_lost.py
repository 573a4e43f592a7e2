"""A refusal spooled on one host while its PostgreSQL is unreachable is seen by the diallers of
other hosts only in Redis. Redis restarting empty makes every gate fail closed, and another
host rebuilds it from SQL, which does not have the refusal yet: the spooling host's drainer
mirrors the waiting entry again after its next pass, and once more after the replay, so the
other host's gate refuses the number again, and every later rebuild has it from SQL (inv1,
inv2, inv6)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from cmp_support import DEAD_PG, SH_NOON, loaded
from helpers.clock import FakeClock
from helpers.compliance_data import INDEX_KEY
from helpers.evidence import MemorySink
from helpers.numbers import customer, fresh_number
from helpers.redis_server import ThrowawayRedis

from compliance.decision import GateRequest, Reason
from compliance.guard import SqlPool
from compliance.outage import open_outage_spool
from compliance.redis_store import RedisGateStore
from compliance.reload import RulesHolder
from compliance.service import ComplianceService
from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger
from ivr.db import make_engine
from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceSink
from ivr.spool import Spool
from ivr.spool_drain import SpoolDrainer
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.spooled_evidence import KIND as EVIDENCE
from records.spooled_evidence import EvidenceReplay, SpooledEvidence


def _host(
    url: str,
    redis: ThrowawayRedis,
    prefix: str,
    *,
    spool: LedgerSpool | None = None,
    evidence: EvidenceSink | None = None,
) -> ComplianceService:
    """One host's compliance service: its ledger on ``url``, the shared Redis gate store."""
    sql = SqlPool("test-sql", workers=2, max_pending=64)
    return ComplianceService(
        holder=RulesHolder(loaded()),
        ledger=SqlLedger(make_engine(url)),
        gate_store=RedisGateStore(redis.url, prefix, 2.0),
        evidence=evidence or MemorySink(),
        index_key=INDEX_KEY,
        sql=sql,
        watcher=None,
        timeout_s=2.0,
        settle_s=0.0,
        clock=FakeClock(SH_NOON),
        spool=spool,
    )


async def _reasons(host: ComplianceService, e164: str) -> tuple[Reason, ...]:
    d = await host.dry_run(GateRequest(e164, "marketing", uuid.uuid4().hex), at=SH_NOON)
    return d.reasons


async def _redis_restarts_empty_and_is_rebuilt_by(
    host: ComplianceService, redis: ThrowawayRedis, e164: str
) -> None:
    redis.stop()
    redis.start()
    assert await _reasons(host, e164) == (Reason.STORE_UNAVAILABLE,)  # fail closed (inv2)
    await host.resync()  # from SQL only: this host's spool (none) adds nothing


async def test_inv1_refusal_spooled_on_one_host_is_held_by_another_through_redis_restarts(
    pg_url: str, tmp_path: Path, throwaway_redis: ThrowawayRedis
) -> None:
    redis, prefix = throwaway_redis, f"lost-{uuid.uuid4().hex[:8]}"
    number = customer(fresh_number())
    other = _host(pg_url, redis, prefix)  # a dialler on another host, PostgreSQL reachable
    await other.start(watch=False)
    assert Reason.DNC not in await _reasons(other, number.e164)

    path = tmp_path / "a" / "outage.sqlite3"  # the spooling host, PostgreSQL unreachable
    spool = Spool(path)
    ledger_spool = LedgerSpool(spool)
    dead = SqlEvidenceLog(make_engine(DEAD_PG))
    spooling = _host(
        DEAD_PG, redis, prefix, spool=ledger_spool, evidence=SpooledEvidence(dead, spool)
    )
    await spooling.record_refusal(number, source="call", reason="不要再打", actor="bot")
    assert Reason.DNC in await _reasons(other, number.e164)  # through Redis
    drainer = SpoolDrainer(
        spool,
        {**ledger_spool.replayers(SqlLedger(make_engine(DEAD_PG))), EVIDENCE: EvidenceReplay(dead)},
        each_pass=ledger_spool.remirror,
    )

    await _redis_restarts_empty_and_is_rebuilt_by(other, redis, number.e164)
    with pytest.raises(StoreUnavailableError):
        await drainer.drain()  # the spooling host's next pass: its database is still down ...
    assert Reason.DNC in await _reasons(other, number.e164)  # ... the entry is back in Redis
    drainer.close()
    await spooling.close()
    spool.close()

    # the spooling host's database is back (its process restarted); Redis is lost once more
    # and rebuilt by the other host before the replay
    engine = make_engine(pg_url)
    back = open_outage_spool(
        path, engine=engine, evidence=SqlEvidenceLog(engine), keyring=Keyring.single(b"m" * 16)
    )
    restarted = _host(pg_url, redis, prefix, spool=back.ledger, evidence=back.evidence)
    try:
        await _redis_restarts_empty_and_is_rebuilt_by(other, redis, number.e164)
        assert back.spool.count() > 0
        await back.drainer.drain()  # the replay, then the replayed entry mirrored again
        assert back.spool.count() == 0
        assert Reason.DNC in await _reasons(other, number.e164)
        answer = await other.check_and_permit(GateRequest(number.e164, "marketing", "a-1"))
        assert answer.permit is None and Reason.DNC in answer.decision.reasons
        await _redis_restarts_empty_and_is_rebuilt_by(other, redis, number.e164)
        assert Reason.DNC in await _reasons(other, number.e164)  # SQL has it now
    finally:
        await restarted.close()
        await back.close()
        await other.close()
