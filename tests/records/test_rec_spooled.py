"""A recording whose call ends while the database is down (``records.spooled_recording``): the
vault still seals it into the blob store, verifies it and removes the clear file; only its index
row, flags and evidence wait in the outage spool, with no clear number; once the database is
back the drainer indexes it (searchable, plays to the same audio, original times, the chain
verifies) and a replay repeated after a crash does not double it (inv10, inv11, inv12)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.clock import FakeClock
from test_rec_vault import MARKER, SUP, T0, audio, meta

from ivr.db import make_engine
from ivr.errors import IntegrityError, StoreUnavailableError
from ivr.spool import Spool
from ivr.spool_drain import SpoolDrainer
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.recording_index import RecordingIndex
from records.spooled_recording import KIND, RecordingReplay, decode_row
from records.tables import recordings
from records.vault import RecordingQuery, RetentionPolicy, Vault

DEAD_PG = "postgresql://postgres@127.0.0.1:1/ivr_down"  # refused at once: the database is down


def _vault(engine: sa.Engine, root: Path, key: bytes, clock: FakeClock, **kw: object) -> Vault:
    return Vault(
        engine,
        FileBlobStore(root),
        Keyring.single(key),
        b"i" * 16,
        SqlEvidenceLog(engine, clock=clock),
        RetentionPolicy(2, {"wealth": 5}),
        clock=clock,
        **kw,  # type: ignore[arg-type]
    )


def _drainer(spool: Spool, engine: sa.Engine) -> SpoolDrainer:
    return SpoolDrainer(
        spool, {KIND: RecordingReplay(RecordingIndex(engine), SqlEvidenceLog(engine))}
    )


def _blobs(root: Path) -> list[Path]:
    return [p for p in (root / "objects").rglob("*") if p.is_file()]


def test_inv10_recording_sealed_in_outage_then_indexed_once_after(
    engine: sa.Engine, tmp_path: Path, clock: FakeClock
) -> None:
    root, key = tmp_path / "vault", b"k" * 16
    spool = Spool(tmp_path / "spool" / "outage.sqlite3")
    down = _vault(make_engine(DEAD_PG), root, key, clock, spool=spool)
    src = audio(tmp_path, "c1.wav")
    plain = src.read_bytes()
    spooled = down.ingest_sync(src, meta("c1", qa_flags=["prohibited_phrase"]))
    assert not src.exists()  # no clear file kept
    (blob,) = _blobs(root)
    assert blob.name == f"{spooled.recording_id}.sm4" and MARKER not in blob.read_bytes()
    assert spool.count() == 1
    for part in tmp_path.glob("spool/outage.sqlite3*"):  # nothing in clear in the spool
        raw = part.read_bytes()
        assert b"13812345678" not in raw and MARKER not in raw
    stored_at = clock()

    clock.advance(seconds=600)  # the database is back ten minutes later
    up = _vault(engine, root, key, clock)
    with pytest.raises(Exception, match="no stored recording"):
        up.get(SUP, spooled.recording_id)  # not indexed before the replay
    items = spool.head(10)
    drainer = _drainer(spool, engine)
    assert drainer.drain_once().replayed == 1 and spool.count() == 0
    (found,) = up.search(SUP, RecordingQuery(customer_number=meta("x").customer_number))
    assert found.recording_id == spooled.recording_id and found.call_id == "c1"
    assert found.qa_flags == ("prohibited_phrase",) and found.customer == "138****5678"
    assert found.started_at == T0 and found.size_bytes == len(plain)
    assert up.fetch(SUP, found.recording_id, "QA review").data == plain  # plays the same audio
    (entry,) = [e for e in up.evidence.entries() if e.kind == "recording_stored"]
    assert entry.payload["recording_id"] == found.recording_id
    assert entry.ts.startswith(stored_at.isoformat()[:19])  # the time it was sealed

    # a crash after the replay committed, before the items left the spool: replayed again
    for item in items:
        spool.put(item.kind, item.body, key=item.key)
    assert drainer.drain_once().replayed == 1 and spool.count() == 0
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(recordings)).scalar() == 1
    kinds = [e.kind for e in up.evidence.entries()]
    assert kinds.count("recording_stored") == 1
    assert up.evidence.verify().ok
    assert up.recover()["rolled_back"] == 0  # recover clears the row's source_path
    with engine.connect() as conn:
        assert conn.execute(sa.select(recordings.c.source_path)).scalar() is None
    drainer.close()
    spool.close()


def test_sealing_that_fails_in_outage_keeps_the_clear_file_and_spools_nothing(
    tmp_path: Path, clock: FakeClock
) -> None:
    def broken(step: str) -> None:
        if step == "object_written":
            raise IntegrityError("disk lied")

    root = tmp_path / "vault"
    spool = Spool(tmp_path / "spool" / "outage.sqlite3")
    down = _vault(make_engine(DEAD_PG), root, b"k" * 16, clock, spool=spool, step_hook=broken)
    src = audio(tmp_path, "c2.wav")
    with pytest.raises(IntegrityError):
        down.ingest_sync(src, meta("c2"))
    assert src.exists()  # as when sealing fails with the database up: the source stays
    assert _blobs(root) == [] and spool.count() == 0
    spool.close()


def test_without_a_spool_an_outage_fails_the_ingest_and_keeps_the_source(
    tmp_path: Path, clock: FakeClock
) -> None:
    root = tmp_path / "vault"
    down = _vault(make_engine(DEAD_PG), root, b"k" * 16, clock)
    src = audio(tmp_path, "c3.wav")
    with pytest.raises(StoreUnavailableError):
        down.ingest_sync(src, meta("c3"))
    assert src.exists() and _blobs(root) == []


def test_an_intent_row_that_landed_though_it_failed_is_marked_stored_by_the_replay(
    engine: sa.Engine, tmp_path: Path, clock: FakeClock
) -> None:
    root, key = tmp_path / "vault", b"k" * 16
    spool = Spool(tmp_path / "spool" / "outage.sqlite3")
    down = _vault(make_engine(DEAD_PG), root, key, clock, spool=spool)
    src = audio(tmp_path, "c4.wav")
    plain = src.read_bytes()
    spooled = down.ingest_sync(src, meta("c4", qa_flags=["late_disclosure"]))
    (item,) = spool.head(10)
    row = decode_row(item.body["row"])  # the commit reached the database, its reply did not
    pending = {**row, "status": "pending", "size_bytes": None, "plaintext_sm3": None}
    RecordingIndex(engine).insert_pending({**pending, "stored_at": None}, ["late_disclosure"])
    up = _vault(engine, root, key, clock)
    drainer = _drainer(spool, engine)
    assert drainer.drain_once().replayed == 1
    (found,) = up.search(SUP, RecordingQuery(call_id="c4"))
    assert found.recording_id == spooled.recording_id and found.qa_flags == ("late_disclosure",)
    assert up.fetch(SUP, found.recording_id, "QA review").data == plain
    assert up.recover()["rolled_back"] == 0
    assert [e.kind for e in up.evidence.entries()].count("recording_stored") == 1
    drainer.close()
    spool.close()


class Blocker:
    """Another writer holding the SQLite database's write lock: the vault's statements fail
    with the driver's ``OperationalError`` (database is locked) as they would on a PostgreSQL
    restarting under them, not at connect."""

    def __init__(self, url: str) -> None:
        self.conn = sqlite3.connect(sa.make_url(url).database or "", isolation_level=None)

    def hold(self) -> None:
        self.conn.execute("BEGIN EXCLUSIVE")

    def release(self) -> None:
        self.conn.execute("ROLLBACK")
        self.conn.close()


@pytest.mark.parametrize("failing", ["intent_row", "stored_mark"])
def test_sql_errors_mid_ingest_are_an_outage_the_spool_takes(
    failing: str, sqlite_url: str, tmp_path: Path, clock: FakeClock
) -> None:
    """A statement (not the connect) failing in the intent row's commit, or in the last commit
    after the object is sealed: the vault's edge makes it a StoreUnavailableError, so the sealed
    recording's row goes to the spool, the clear file is removed and the replay indexes it
    once (before: SQLAlchemy's OperationalError escaped the vault, the call logged it as a
    crash and the spool never saw the row)."""
    engine = sa.create_engine(sqlite_url, connect_args={"timeout": 0.05})  # fails fast
    blocker = Blocker(sqlite_url)
    if failing == "intent_row":
        blocker.hold()

    def hook(step: str) -> None:
        if step == "object_verified" and failing == "stored_mark":
            blocker.hold()

    root, key = tmp_path / "vault", b"k" * 16
    spool = Spool(tmp_path / "spool" / "outage.sqlite3")
    vault = _vault(engine, root, key, clock, spool=spool, step_hook=hook)
    src = audio(tmp_path, "c5.wav")
    plain = src.read_bytes()
    try:
        info = vault.ingest_sync(src, meta("c5", qa_flags=["complaint"]))
    finally:
        blocker.release()
    assert not src.exists() and spool.count() == 1  # sealed, its row waits in the spool
    assert info.qa_flags == ("complaint",) and info.size_bytes == len(plain)
    drainer = _drainer(spool, engine)
    assert drainer.drain_once().replayed == 1 and spool.count() == 0
    (found,) = vault.search(SUP, RecordingQuery(call_id="c5"))
    assert found.recording_id == info.recording_id and found.qa_flags == ("complaint",)
    assert vault.fetch(SUP, found.recording_id, "QA review").data == plain
    assert [e.kind for e in vault.evidence.entries()].count("recording_stored") == 1
    assert vault.evidence.verify().ok
    assert vault.recover()["rolled_back"] == 0
    drainer.close()
    spool.close()
    engine.dispose()
