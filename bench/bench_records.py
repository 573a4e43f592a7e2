"""Records benchmarks: vault ingest MB/s beside a plain file copy; evidence appends/s.

    .venv/bin/python bench/bench_records.py [--mb 64] [--files 8] [--calls 200] [--appends 500]
                                            [--no-pg]

Ingest = SM4-GCM seal + SM3 + fsync'd atomic put + read-back verification + index and
evidence transactions + plaintext removal, for a few large files (MB/s) and for many short
calls (recordings/s, every other one from a caller without a usable number: sealed without a
customer index). The baseline copies the same files with ``shutil.copyfile`` + fsync in the
same run. Evidence appends are sequential single-process
appends (each one its own locked, committed transaction) on SQLite and PostgreSQL.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from alembic import command
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ivr.db import alembic_config, make_engine
from ivr.phone import customer_number
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.vault import RecordingMeta, Vault

PG_ADMIN = os.environ.get(
    "IVR_BENCH_PG_ADMIN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
PG_URL_BASE = os.environ.get(
    "IVR_BENCH_PG_URL_BASE", "postgresql+psycopg://postgres@127.0.0.1:5432"
)


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"rec{i}.wav"
        path.write_bytes(os.urandom(size))
        files.append(path)
    return files


def bench_copy(files: list[Path], dest: Path) -> float:
    dest.mkdir()
    start = time.perf_counter()
    for f in files:
        target = dest / f.name
        shutil.copyfile(f, target)
        with target.open("rb+") as fh:
            os.fsync(fh.fileno())
    return time.perf_counter() - start


def bench_ingest(files: list[Path], work: Path, every_other_anonymous: bool = False) -> float:
    url = f"sqlite:///{work / 'ivr.db'}"
    command.upgrade(alembic_config(url), "records@head")
    engine = make_engine(url)
    vault = Vault(
        engine,
        FileBlobStore(work / "vault"),
        Keyring.single(os.urandom(16)),
        os.urandom(16),
        SqlEvidenceLog(engine),
    )
    t0 = datetime.now(UTC)
    start = time.perf_counter()
    for i, f in enumerate(files):
        vault.ingest_sync(
            f,
            RecordingMeta(
                call_id=f"bench-{i}",
                business_type="credit_card",
                direction="outbound",
                started_at=t0,
                ended_at=t0 + timedelta(minutes=5),
                customer_number=None
                if every_other_anonymous and i % 2
                else customer_number("13812345678"),
            ),
        )
    elapsed = time.perf_counter() - start
    engine.dispose()
    return elapsed


def bench_appends(url: str, n: int) -> float:
    command.upgrade(alembic_config(url), "records@head")
    engine = make_engine(url)
    log = SqlEvidenceLog(engine)
    log.append_entry("call_started", call_id="warmup", payload={})
    start = time.perf_counter()
    for i in range(n):
        log.append_entry("disclosure_played", call_id=f"c{i}", payload={"bot": "AI-0001", "i": i})
    elapsed = time.perf_counter() - start
    assert log.verify().ok
    engine.dispose()
    return n / elapsed


def bench_sm4_gcm(mb: int = 32) -> float:
    data = os.urandom(mb << 20)
    start = time.perf_counter()
    enc = Cipher(algorithms.SM4(os.urandom(16)), modes.GCM(os.urandom(12))).encryptor()
    enc.update(data)
    enc.finalize()
    return mb / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=64, help="total MB to ingest")
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--calls", type=int, default=200, help="short recordings to ingest")
    parser.add_argument("--appends", type=int, default=500)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    size = args.mb * (1 << 20) // args.files
    total_mb = size * args.files / (1 << 20)
    with tempfile.TemporaryDirectory(prefix="bench-records-") as tmp:
        root = Path(tmp)
        files = make_files(root / "src", args.files, size)
        copy_s = bench_copy(files, root / "copy")
        ingest_s = bench_ingest(files, root / "ingest")
        print(f"vault ingest   {total_mb / ingest_s:8.1f} MB/s  ({args.files} x {size >> 20} MB)")
        print(f"plain copy     {total_mb / copy_s:8.1f} MB/s  (copyfile + fsync, same files)")
        print(f"raw SM4-GCM    {bench_sm4_gcm():8.1f} MB/s  (OpenSSL, in memory, one pass)")
        calls = make_files(root / "calls", args.calls, 96 << 10)
        copy_calls_s = bench_copy(calls, root / "copy-calls")
        ingest_calls_s = bench_ingest(calls, root / "ingest-calls", every_other_anonymous=True)
        print(
            f"vault ingest   {args.calls / ingest_calls_s:8.1f} rec/s ({args.calls} x 96 KB, "
            "half without a number)"
        )
        print(
            f"plain copy     {args.calls / copy_calls_s:8.1f} rec/s (copyfile + fsync, same files)"
        )
        rate = bench_appends(f"sqlite:///{root / 'evidence.db'}", args.appends)
        print(f"evidence SQLite      {rate:8.0f} appends/s  ({args.appends} sequential)")
    if not args.no_pg:
        name = f"bench_records_{secrets.token_hex(3)}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            rate = bench_appends(f"{PG_URL_BASE}/{name}", args.appends)
            print(f"evidence PostgreSQL  {rate:8.0f} appends/s  ({args.appends} sequential)")
        finally:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
