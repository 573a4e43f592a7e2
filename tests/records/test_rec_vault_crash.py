"""inv10: killing the ingesting process at any step leaves nothing or a complete record."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from records.vault import Actor, RecordingQuery, Vault

HERE = Path(__file__).parent
SUP = Actor("sup-1", "supervisor")
MARKER = b"PLAINTEXT-MARKER-crash-test"
BEFORE_COMMIT = ["pending_committed", "object_partial", "object_written", "object_verified"]
AFTER_COMMIT = ["stored_committed", "source_removed"]


def vault_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


# every step on SQLite; on PostgreSQL one step on each side of the commit (same SQL path)
CASES = [("sqlite", s) for s in BEFORE_COMMIT + AFTER_COMMIT] + [
    ("postgresql", "object_written"),
    ("postgresql", "stored_committed"),
]


@pytest.mark.slow
@pytest.mark.parametrize(("db_url", "step"), CASES, indirect=["db_url"])
def test_inv10_crash_between_steps_leaves_nothing_or_complete(
    step: str,
    db_url: str,
    engine: sa.Engine,
    vault: Vault,
    tmp_path: Path,
    master_key: bytes,
    bi_key: bytes,
    clock: Any,
) -> None:
    source = tmp_path / "fs" / "call.wav"
    source.parent.mkdir()
    plain = b"RIFF" + MARKER + os.urandom(2_500_000) + MARKER  # > 2 chunks
    source.write_bytes(plain)
    root = tmp_path / "vault"
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "vault_crash_worker.py"),
            db_url,
            str(root),
            str(source),
            step,
            master_key.hex(),
            bi_key.hex(),
        ],
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL

    # right after the crash: never plaintext in the vault, never a half record in search
    for path in vault_files(root):
        assert MARKER not in path.read_bytes()
    visible = vault.search(SUP, RecordingQuery())
    assert len(visible) == (1 if step in AFTER_COMMIT else 0)
    if visible:
        assert vault.fetch(SUP, visible[0].recording_id, "crash check").data == plain

    clock.now = datetime.now(UTC) + timedelta(seconds=1)  # the worker used the real clock
    counts = vault.recover(lease_s=0)

    with engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT status, source_path FROM recordings").all()
        flags = conn.exec_driver_sql("SELECT COUNT(*) FROM recording_flags").scalar_one()
    objects = list((root / "objects").rglob("*.sm4"))
    temps = list((root / "tmp").glob("*"))
    assert temps == []
    if step in BEFORE_COMMIT:
        # nothing: no row, no object, the plaintext source intact for a retry
        assert rows == [] and flags == 0 and objects == []
        assert source.read_bytes() == plain
        assert counts["rolled_back"] == 1
    else:
        # complete: one stored row, its object, the plaintext gone
        assert rows == [("stored", None)] and flags == 1 and len(objects) == 1
        assert not source.exists()
        (info,) = vault.search(SUP, RecordingQuery(flags=["complaint"]))
        assert vault.fetch(SUP, info.recording_id, "after recovery").data == plain
    assert vault.evidence.verify().ok
    assert vault.recover(lease_s=0) == {
        "rolled_back": 0,
        "sources_removed": 0,
        "deletes_finished": 0,
        "temp_removed": 0,
    }


def test_recover_respects_the_lease_of_in_flight_ingests(
    vault: Vault,
    engine: sa.Engine,
    tmp_path: Path,
    master_key: bytes,
    bi_key: bytes,
    db_url: str,
    clock: Any,
) -> None:
    source = tmp_path / "call.wav"
    source.write_bytes(b"RIFF" + os.urandom(1000))
    proc = subprocess.run(
        [
            sys.executable,
            str(HERE / "vault_crash_worker.py"),
            db_url,
            str(tmp_path / "vault"),
            str(source),
            "object_written",
            master_key.hex(),
            bi_key.hex(),
        ],
        timeout=120,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    clock.now = datetime.now(UTC)
    # a pending ingest younger than the lease may still be running elsewhere: left alone
    assert vault.recover(lease_s=3600)["rolled_back"] == 0
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT status FROM recordings").scalars().all() == ["pending"]
