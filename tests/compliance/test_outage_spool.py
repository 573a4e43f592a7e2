"""The outage spool (``ivr.spool``, ``compliance.spool``, ``records.spooled_evidence``) and its
drainer: a refusal, a consent and evidence the database cannot take are spooled and
acknowledged, the gate treats the spooled refusal as DNC at once, and the replay puts each in
the database once, with its original time, the chain still verifying; kill -9 of a writer loses
no acknowledged item; a replay cut off by a crash is not doubled (inv6, inv12)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cmp_support import DEAD_PG, SH_NOON, build_spooled, spool_until_killed
from helpers.clock import FakeClock
from helpers.compliance_data import INDEX_KEY
from helpers.numbers import customer, fresh_number

from compliance.decision import GateRequest
from compliance.outage import OutageSpool, open_outage_spool
from compliance.spool import DNC, LedgerSpool
from compliance.tables import dnc_events
from ivr.crypto import blind_index
from ivr.db import make_engine
from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceKind
from ivr.spool import DrainLock, Marker, Spool
from ivr.spool_drain import SpoolDrainer
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.spooled_evidence import KIND as EVIDENCE
from records.spooled_evidence import EvidenceReplay, SpooledEvidence

ACKS_BEFORE_KILL = 200


def _down(path: Path) -> tuple[Spool, LedgerSpool, SpooledEvidence]:
    """A process whose database is down, spooling to ``path``."""
    spool = Spool(path)
    return spool, LedgerSpool(spool), SpooledEvidence(SqlEvidenceLog(make_engine(DEAD_PG)), spool)


def _back(path: Path, url: str) -> OutageSpool:
    """A (later) process on the same spool whose database is up."""
    engine = make_engine(url)
    return open_outage_spool(
        path, engine=engine, evidence=SqlEvidenceLog(engine), keyring=Keyring.single(b"m" * 16)
    )


def _url(backend: str, sqlite_url: str, request: pytest.FixtureRequest) -> str:
    return sqlite_url if backend == "sqlite" else str(request.getfixturevalue("pg_url"))


async def test_kill_9_mid_spool_writes_keeps_every_acknowledged_item_exactly_once(
    tmp_path: Path,
) -> None:
    path, out = tmp_path / "spool" / "outage.sqlite3", tmp_path / "acks.txt"
    child = multiprocessing.get_context("spawn").Process(
        target=spool_until_killed, args=(str(path), str(out))
    )
    child.start()
    try:
        deadline = time.monotonic() + 90
        while not out.exists() or out.read_text().count("\n") < ACKS_BEFORE_KILL:
            assert child.is_alive() and time.monotonic() < deadline, "the writer stalled"
            await asyncio.sleep(0.005)
        os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    acked = [t for t in out.read_text().split("\n")[:-1] if t]  # a torn last line is dropped
    assert len(acked) >= ACKS_BEFORE_KILL
    spool = Spool(path)  # reopened: SQLite recovers the WAL
    try:
        tokens = [item.body["token"] for item in spool.head(10**6)]
        assert (path.stat().st_mode & 0o777) == 0o600
    finally:
        spool.close()
    for token in acked:
        assert tokens.count(token) == 1, f"acknowledged item {token} lost or doubled"
    assert len(tokens) == len(set(tokens))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_inv6_refusal_consent_and_evidence_spooled_in_outage_then_replayed_once(
    backend: str, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, sqlite_url, request)
    path = tmp_path / "outage.sqlite3"
    clock = FakeClock(SH_NOON)
    spool, ledger_spool, evidence = _down(path)
    down = build_spooled(DEAD_PG, ledger_spool, evidence, clock)
    refuser, consenter = customer(fresh_number()), customer(fresh_number())
    call = f"outage-{fresh_number()[-8:]}"
    refusal = await down.record_refusal(
        refuser, source="call", reason="refused in call", actor="bot", call_id=call
    )  # acknowledged although the ledger is down
    assert refusal.dnc is not None and refusal.dnc.created_at == SH_NOON
    consent = await down.grant_consent(
        consenter, purpose="marketing", scope="product", channel="voice", call_id=call
    )
    await evidence.append(EvidenceKind.CALL_ENDED, call_id=call, payload={"reason": "refused"})
    waiting = spool.head(100)
    assert [i.kind for i in waiting] == [DNC, EVIDENCE, "consent", EVIDENCE, EVIDENCE]
    assert refuser.e164 not in spool.path.read_bytes().decode("utf-8", "replace")
    spooled_ts = [i.body["ts"] for i in waiting if i.kind == EVIDENCE]
    await down.close()

    back = _back(path, url)  # the database is back; nothing replayed yet
    live = build_spooled(url, back.ledger, back.evidence, clock)
    try:
        d = await live.dry_run(GateRequest(refuser.e164, "marketing", "a-1"), at=SH_NOON)
        assert not d.allowed and "dnc" in [r.value for r in d.reasons]  # held by the spool
        assert await live.dnc_entry(refuser) is None  # ... while SQL does not have it yet
        assert await live.is_dnc(refuser)
        done = await back.drainer.drain()
        assert done.replayed == 5 and back.spool.count() == 0
        entry = await live.dnc_entry(refuser)
        assert entry is not None and entry.created_at == SH_NOON and entry.call_id == call
        assert entry.reason == "refused in call" and entry.source == "call"
        consents = await live.list_consents(consenter)
        assert [c.id for c in consents] == [consent.id]
        log = back.evidence.log
        entries = list(log.entries(call_id=call))
        assert [e.kind for e in entries] == ["dnc_added", "consent_granted", "call_ended"]
        assert [e.ts for e in entries] == spooled_ts  # the time it happened, not the replay's
        assert (await asyncio.to_thread(log.verify)).ok
        await back.drainer.drain()  # nothing left: nothing twice
        assert len(list(log.entries(call_id=call))) == 3
    finally:
        await live.close()
        await back.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_replay_cut_off_by_a_crash_is_finished_without_doubles(
    backend: str, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, sqlite_url, request)
    path = tmp_path / "outage.sqlite3"
    clock = FakeClock(SH_NOON)
    _spool, ledger_spool, evidence = _down(path)
    down = build_spooled(DEAD_PG, ledger_spool, evidence, clock)
    number = customer(fresh_number())
    call = f"crash-{fresh_number()[-8:]}"
    await down.add_dnc(number, source="call", reason="refused", actor="bot", call_id=call)
    for i in range(4):
        await evidence.append(EvidenceKind.QA_RESULT, call_id=call, payload={"i": i})
    await down.close()

    first = _back(path, url)  # replays the DNC entry and the evidence, then "dies" before
    items = first.spool.head(100)  # it could remove them from the spool
    first.drainer.replayers[DNC].apply(items[:1])
    run = items[1:]
    replayer = first.drainer.replayers[EVIDENCE]
    token = replayer.prepare()
    assert token is not None
    first.spool.set_marker(Marker(EVIDENCE, tuple(i.id for i in run), token))
    replayer.apply(run)
    first.spool.close()

    second = _back(path, url)  # the restarted process
    try:
        assert second.spool.count() == 6  # dnc, dnc_added and 4 entries: all replayed already
        await second.start()
        assert second.spool.count() == 0 and second.spool.marker() is None
        log = second.evidence.log
        kinds = [e.kind for e in log.entries(call_id=call)]
        assert kinds == ["dnc_added"] + ["qa_result"] * 4
        assert (await asyncio.to_thread(log.verify)).ok
        bidx = blind_index(INDEX_KEY, number.e164)
        with make_engine(url).connect() as conn:
            adds = conn.execute(
                sa.select(sa.func.count()).where(dnc_events.c.number_index == bidx)
            ).scalar_one()
        assert adds == 1
    finally:
        await second.close()


async def test_a_spool_that_cannot_write_fails_the_refusal_closed(tmp_path: Path) -> None:
    spool, ledger_spool, evidence = _down(tmp_path / "outage.sqlite3")
    down = build_spooled(DEAD_PG, ledger_spool, evidence, FakeClock(SH_NOON))
    spool.close()  # the spool file is gone from under it
    with pytest.raises(StoreUnavailableError):
        await down.record_refusal(
            customer(fresh_number()), source="call", reason="refused", actor="bot", call_id="c"
        )
    with pytest.raises(StoreUnavailableError):
        await evidence.append(EvidenceKind.CALL_ENDED, call_id="c", payload={"reason": "x"})
    await down.close()


async def test_a_calls_evidence_after_an_outage_follows_its_spooled_entries(
    sqlite_url: str, tmp_path: Path
) -> None:
    spool = Spool(tmp_path / "outage.sqlite3")
    chain = SqlEvidenceLog(make_engine(sqlite_url))
    sink = SpooledEvidence(SqlEvidenceLog(make_engine(DEAD_PG)), spool)  # the database is down
    drainer = SpoolDrainer(spool, {EVIDENCE: EvidenceReplay(chain, replayed=sink.replayed_call)})
    call, other = f"order-{fresh_number()[-8:]}", f"other-{fresh_number()[-8:]}"
    await sink.append(EvidenceKind.CALL_STARTED, call_id=call, payload={"n": 1})
    sink.log = chain  # ... and back
    await sink.append(EvidenceKind.DISCLOSURE_PLAYED, call_id=call, payload={"n": 2})
    assert spool.count() == 2 and list(chain.entries(call_id=call)) == []  # kept in order
    await sink.append(EvidenceKind.CALL_STARTED, call_id=other, payload={"n": 0})
    assert spool.count() == 2 and len(list(chain.entries(call_id=other))) == 1  # direct
    await drainer.drain()
    assert spool.count() == 0 and sink.waiting(call) == 0
    await sink.append(EvidenceKind.CALL_ENDED, call_id=call, payload={"n": 3})
    assert spool.count() == 0  # straight to the chain again
    assert [e.payload["n"] for e in chain.entries(call_id=call)] == [1, 2, 3]
    spool.close()


async def test_a_drain_pass_reads_the_spool_off_the_event_loop_and_still_sees_others_dnc(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A spool read waits for the file's locks (another writer's fsync'd commit): the pass,
    its after-pass refresh of the DNC entries other processes spooled and the gauges all run on
    the drainer's thread, never on the loop the calls run on."""
    path = tmp_path / "outage.sqlite3"
    back = _back(path, sqlite_url)
    other, other_ledger, _ = _down(path)  # another process on the same file, its database down
    number = customer(fresh_number())
    bidx = blind_index(INDEX_KEY, number.e164)
    down = build_spooled(DEAD_PG, other_ledger, SpooledEvidence(
        SqlEvidenceLog(make_engine(DEAD_PG)), other), FakeClock(SH_NOON))  # fmt: skip
    await down.add_dnc(number, source="call", reason="refused", actor="bot", call_id="c-other")
    assert not back.ledger.holds_dnc(bidx)  # spooled by the other process: not seen here yet
    threads: list[int] = []
    for name in ("_read", "_tx"):
        real = getattr(Spool, name)

        def spy(self: Spool, *args: object, _real: object = real) -> object:
            threads.append(threading.get_ident())
            return _real(self, *args)  # type: ignore[operator]

        monkeypatch.setattr(Spool, name, spy)
    loop_thread = threading.get_ident()
    holder = DrainLock(path)  # the other process drains the file now: this pass only looks
    assert holder.acquire()
    try:
        done = await back.drainer.drain()
        assert not done.drained_here and done.left == 2  # the DNC entry and its evidence
        assert threads, "the pass read the spool"
        assert loop_thread not in threads, "a spool read ran on the event loop"
        assert back.ledger.holds_dnc(bidx)  # the refresh after the pass saw the other's entry
    finally:
        holder.release()
        monkeypatch.undo()
        await down.close()
        other.close()
        await back.close()
