"""inv12 on real SQLite and PostgreSQL: the SQL evidence log, tampering, concurrency."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import sqlalchemy as sa

from ivr.errors import IntegrityError, LocalProtocolError
from ivr.evidence import EvidenceKind, EvidenceSink
from records.chain import Checkpoint
from records.evidence_store import SqlEvidenceLog

HERE = Path(__file__).parent


def fill(log: SqlEvidenceLog, n: int) -> None:
    for i in range(n):
        log.append_entry(
            EvidenceKind.CONSENT_GRANTED, call_id=f"c{i}", payload={"i": i, "s": "营销"}
        )


def test_append_links_entries_and_moves_head(engine: sa.Engine) -> None:
    log = SqlEvidenceLog(engine)
    sink: EvidenceSink = log
    asyncio.run(sink.append(EvidenceKind.DISCLOSURE_PLAYED, call_id="c1", payload={"bot": "AI-1"}))
    e2 = log.append_entry(EvidenceKind.CALL_ENDED, call_id="c1", payload={})
    entries = list(log.entries())
    assert [e.seq for e in entries] == [1, 2]
    assert entries[1].prev_hash == entries[0].hash and e2.hash == entries[1].hash
    assert entries[0].kind == "disclosure_played" and entries[0].payload == {"bot": "AI-1"}
    assert log.head().seq == 2 and log.head().hash == e2.hash
    assert [e.seq for e in log.entries(call_id="c1")] == [1, 2]
    r = log.verify()
    assert r.ok and r.head_seq == 2


def test_inv11_clear_number_refused_before_writing(engine: sa.Engine) -> None:
    log = SqlEvidenceLog(engine)
    with pytest.raises(LocalProtocolError):
        log.append_entry(EvidenceKind.DNC_ADDED, call_id="c", payload={"number": "13812345678"})
    assert log.head().seq == 0


def test_inv12_log_is_append_only_in_the_database(engine: sa.Engine) -> None:
    log = SqlEvidenceLog(engine)
    fill(log, 2)
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE evidence_log SET kind = 'x' WHERE seq = 1")
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq = 2")
    assert log.verify().ok


def test_inv12_one_payload_byte_changed_is_located(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 6)
    with unguarded.begin() as conn:
        conn.exec_driver_sql(
            "UPDATE evidence_log SET payload = REPLACE(payload, '\"i\":3', '\"i\":4') WHERE seq = 4"
        )
    r = log.verify()
    assert not r.ok and r.first_bad_seq == 4


def test_inv12_undecodable_payload_is_located(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 3)
    with unguarded.begin() as conn:
        conn.exec_driver_sql("UPDATE evidence_log SET payload = '{\"i\":1' WHERE seq = 2")
    r = log.verify()
    assert not r.ok and r.first_bad_seq == 2


def test_inv12_deleted_entry_is_located(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 6)
    with unguarded.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq = 3")
    r = log.verify()
    assert not r.ok and r.first_bad_seq == 3 and "missing" in (r.reason or "")


def test_inv12_two_swapped_entries_are_located(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 6)
    with unguarded.begin() as conn:
        conn.exec_driver_sql("UPDATE evidence_log SET seq = -1 WHERE seq = 2")
        conn.exec_driver_sql("UPDATE evidence_log SET seq = 2 WHERE seq = 3")
        conn.exec_driver_sql("UPDATE evidence_log SET seq = 3 WHERE seq = -1")
    r = log.verify()
    assert not r.ok and r.first_bad_seq == 2


def test_inv12_tail_truncated_after_checkpoint_is_detected(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 5)
    cp = log.checkpoint()
    assert cp.seq == 5 and log.verify(cp).ok
    fill(log, 2)
    assert log.verify(cp).ok
    # the attacker removes the tail and moves the head row back consistently
    with unguarded.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq > 3")
        row = conn.exec_driver_sql("SELECT hash FROM evidence_log WHERE seq = 3").one()
        conn.execute(sa.text("UPDATE evidence_head SET seq = 3, hash = :h"), {"h": row[0]})
    assert log.verify().ok  # consistent on its own: only the checkpoint can tell
    r = log.verify(Checkpoint.from_dict(cp.as_dict()))
    assert not r.ok and r.first_bad_seq == 4 and "truncated" in (r.reason or "")


def test_inv12_tail_deleted_without_moving_head_is_detected(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 5)
    with unguarded.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq = 5")
    r = log.verify()
    assert not r.ok and r.first_bad_seq == 5


def test_checkpoint_refused_on_broken_chain(unguarded: sa.Engine) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 3)
    with unguarded.begin() as conn:
        conn.exec_driver_sql("UPDATE evidence_log SET kind = 'dnc_removed' WHERE seq = 1")
    with pytest.raises(IntegrityError):
        log.checkpoint()


@pytest.mark.slow
def test_inv12_eight_concurrent_writer_processes_make_one_chain(
    db_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    writers, per_writer = 8, 20
    go = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(HERE / "evidence_writer.py"),
                db_url,
                str(per_writer),
                f"w{w}",
                str(go),
            ]
        )
        for w in range(writers)
    ]
    go.touch()
    codes = [p.wait(timeout=120) for p in procs]
    assert codes == [0] * writers
    log = SqlEvidenceLog(engine)
    entries = list(log.entries())
    assert [e.seq for e in entries] == list(range(1, writers * per_writer + 1))
    r = log.verify()
    assert r.ok and r.head_seq == writers * per_writer
    per = Counter(str(e.payload["writer"]) for e in entries)
    assert per == {f"w{w}": per_writer for w in range(writers)}
    # each writer's own entries keep their order
    for w in range(writers):
        mine = [int(str(e.payload["i"])) for e in entries if e.payload["writer"] == f"w{w}"]
        assert mine == list(range(per_writer))
