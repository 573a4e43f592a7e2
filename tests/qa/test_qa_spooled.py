"""QA results while the database is down (``qa.spooled_results``): a call's result is still
acknowledged, its findings sealed (SM4, the records key ring) before they reach the outage
spool, so the phrase said never lies there in clear; a kill -9 after spooling loses no
acknowledged result, and once PostgreSQL is back the drainer stores each exactly once, even when
a replay is itself killed between its commit and the spool letting go (inv12: the chain
verifies, each result's evidence once)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.pg import fresh_database
from qa_spool_support import (
    DEAD_PG,
    PHRASE,
    STARTED,
    TURNS,
    context,
    replay_until_killed,
    spool_results_until_killed,
)

from compliance.outage import open_outage_spool
from ivr.db import make_engine, migrate
from ivr.errors import IntegrityError, StoreUnavailableError
from ivr.spool import Spool
from ivr.spool_drain import SpoolDrainer
from qa.calls import inspect_call
from qa.compiled import CompiledRules
from qa.spooled_results import KIND, QaResultReplay, QaResultSpool, rows_of
from qa.store import QaResultStore
from qa.tables import qa_findings, qa_results
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.spooled_evidence import SpooledEvidence

KEY = bytes(range(16))
ACKS_BEFORE_KILL = 3


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL database of this test's own (its evidence chain is this test's only)."""
    with fresh_database("ivr_qa_spool", migrate) as url:
        yield url


def _spool_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def _run_child(target: Callable[..., None], *args: str) -> multiprocessing.process.BaseProcess:
    child = multiprocessing.get_context("spawn").Process(target=target, args=args)
    child.start()
    return child


async def test_qa_results_spooled_sealed_survive_kill_9_and_replay_once(
    pg_url: str, tmp_path: Path
) -> None:
    path, out = tmp_path / "spool" / "outage.sqlite3", tmp_path / "acks.txt"
    writer = _run_child(spool_results_until_killed, str(path), str(out), KEY.hex())
    try:
        deadline = time.monotonic() + 120
        while not out.exists() or out.read_text().count("\n") < ACKS_BEFORE_KILL:
            assert writer.is_alive() and time.monotonic() < deadline, "the writer stalled"
            await asyncio.sleep(0.01)
        os.kill(writer.pid or 0, signal.SIGKILL)  # between spooling and any replay
    finally:
        writer.join(timeout=30)
    assert writer.exitcode == -signal.SIGKILL
    acked = [c for c in out.read_text().split("\n")[:-1] if c]
    raw = _spool_bytes(path)
    assert b"qa_result" in raw  # the results are there ...
    assert PHRASE.encode() not in raw and "理财产品".encode() not in raw  # ... never in clear

    replayer = _run_child(replay_until_killed, str(path), pg_url, KEY.hex())
    replayer.join(timeout=120)
    assert replayer.exitcode == -signal.SIGKILL  # killed after its first result committed
    engine = make_engine(pg_url)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(qa_results)).scalar() == 1

    back = open_outage_spool(
        path, engine=engine, evidence=SqlEvidenceLog(engine), keyring=Keyring.single(KEY)
    )
    try:
        await back.start()  # drains what the killed processes left
        assert back.spool.count() == 0
        store = QaResultStore(engine, back.evidence)
        chain = back.evidence.log
        for call_id in acked:
            (stored,) = store.get(call_id)  # once, although replayed twice
            assert not stored.passed and stored.call_started_at == STARTED
            hits = [f for f in stored.findings if f["kind"] == "hit"]
            assert [(f["speaker"], f["phrase"]) for f in hits] == [("agent", PHRASE)]
            (entry,) = [e for e in chain.entries(call_id=call_id) if e.kind == "qa_result"]
            assert entry.payload["result_id"] == stored.result_id
        with engine.connect() as conn:
            results = conn.execute(sa.select(sa.func.count()).select_from(qa_results)).scalar()
            findings = conn.execute(sa.select(qa_findings.c.result_id)).scalars().all()
        assert results is not None and len(acked) <= results <= len(acked) + 1  # + one unacked
        assert len(findings) == results * len(store.get(acked[0])[0].findings)  # none doubled
        assert (await asyncio.to_thread(chain.verify)).ok
    finally:
        await back.close()


async def test_a_later_result_stored_before_the_replay_is_kept(
    tmp_path: Path, shipped: CompiledRules
) -> None:
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    migrate(url)
    engine, keyring = make_engine(url), Keyring.single(KEY)
    spool = Spool(tmp_path / "outage.sqlite3")
    down = QaResultStore(
        make_engine(DEAD_PG),
        SpooledEvidence(SqlEvidenceLog(make_engine(DEAD_PG)), spool),
        spool=QaResultSpool(spool, keyring),
    )
    result = inspect_call(TURNS, context(1), shipped)
    spooled_id = await down.save(result, source="call", call_started_at=STARTED)
    assert spool.count() == 2  # the result, then its evidence
    up = QaResultStore(engine, SqlEvidenceLog(engine))
    later_id = await up.save(result, source="call", call_started_at=STARTED)  # a re-run
    drainer = SpoolDrainer(spool, {KIND: QaResultReplay(engine, keyring)})
    (item,) = [i for i in spool.head(10) if i.kind == KIND]
    drainer.replayers[KIND].apply([item])
    assert [r.result_id for r in up.get(result.call_id)] == [later_id]
    assert later_id != spooled_id
    with pytest.raises(IntegrityError):  # another key ring does not open the findings
        rows_of(item, Keyring.single(b"x" * 16))
    drainer.close()
    spool.close()


async def test_without_a_spool_an_outage_fails_the_save(shipped: CompiledRules) -> None:
    down = QaResultStore(make_engine(DEAD_PG), SqlEvidenceLog(make_engine(DEAD_PG)))
    with pytest.raises(StoreUnavailableError):
        await down.save(
            inspect_call(TURNS, context(2), shipped), source="call", call_started_at=STARTED
        )
