"""Pooled PostgreSQL connections (issue 19): the pool comes from settings, and the product works
through a real PgBouncer in transaction pooling (started here on a loopback port, two server
connections for many clients), where server-side prepared statements would break."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers.pg import fresh_database
from helpers.wait import wait_until

from ivr.db import engine_for, migrate
from ivr.evidence import EvidenceKind
from ivr.settings import Settings
from records.chain import verify
from records.evidence_store import SqlEvidenceLog
from shell.services import free_port

PGBOUNCER = shutil.which("pgbouncer", path="/usr/sbin:/usr/bin:/sbin:/bin")
pytestmark = pytest.mark.skipif(PGBOUNCER is None, reason="pgbouncer missing: scripts/setup.sh")


def test_the_pool_comes_from_settings(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql://postgres@127.0.0.1:5432/test",
        db_pool_size=3,
        db_max_overflow=1,
        db_pool_recycle_s=60,
    )
    engine = engine_for(settings)
    try:
        assert engine.pool.size() == 3  # type: ignore[attr-defined]
        assert engine.pool._max_overflow == 1  # type: ignore[attr-defined]
        assert engine.pool._recycle == 60
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.fixture
def bouncer() -> Iterator[tuple[int, str]]:
    """A PgBouncer (transaction pooling, 2 server connections) before a fresh database. It
    refuses to run as root: then it runs as the ``postgres`` user (``-u``), from a folder that
    user can read and write."""
    with fresh_database("ivr_pool", migrate) as url:
        dbname = url.rsplit("/", 1)[1]
        port = free_port()
        folder = Path(tempfile.mkdtemp(prefix="ivr-pgbouncer-"))
        folder.chmod(0o777)
        users = folder / "users.txt"
        users.write_text('"postgres" ""\n')
        ini = folder / "pgbouncer.ini"
        ini.write_text(
            f"[databases]\n{dbname} = host=127.0.0.1 port=5432 dbname={dbname}\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nunix_socket_dir =\n"
            f"listen_port = {port}\nauth_type = trust\nauth_file = {users}\n"
            "pool_mode = transaction\ndefault_pool_size = 2\nmax_client_conn = 100\n"
            "server_reset_query =\nignore_startup_parameters = extra_float_digits,options\n"
            f"logfile = {folder / 'pgbouncer.log'}\npidfile = {folder / 'pgbouncer.pid'}\n"
        )
        users.chmod(0o644)
        ini.chmod(0o644)
        assert PGBOUNCER is not None
        argv = [PGBOUNCER, *(["-u", "postgres"] if os.geteuid() == 0 else []), str(ini)]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:

            def answers() -> bool:
                try:
                    with sa.create_engine(
                        f"postgresql+psycopg://postgres@127.0.0.1:{port}/{dbname}"
                    ).connect() as conn:
                        return bool(conn.execute(sa.text("SELECT 1")).scalar_one() == 1)
                except sa.exc.OperationalError:
                    return False

            wait_until(answers, 15.0, what="pgbouncer up")
            yield port, dbname
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(folder, ignore_errors=True)


def test_the_evidence_chain_through_pgbouncer_transaction_pooling(
    bouncer: tuple[int, str], tmp_path: Path
) -> None:
    port, dbname = bouncer
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"postgresql://postgres@127.0.0.1:{port}/{dbname}",
        db_pgbouncer=True,
        db_pool_size=4,
    )
    engines = [engine_for(settings) for _ in range(3)]  # three processes' pools, 2 server links
    errors: list[BaseException] = []

    def append(engine: sa.Engine, worker: int) -> None:
        log = SqlEvidenceLog(engine)
        try:
            for i in range(40):  # well past psycopg's prepare threshold (5) per statement
                log.append_entry(EvidenceKind.CALL_ENDED, call_id=f"c{worker}-{i}", payload={})
        except BaseException as exc:  # reported by the assert below
            errors.append(exc)

    threads = [threading.Thread(target=append, args=(engines[n % 3], n)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    try:
        assert errors == []
        entries = list(SqlEvidenceLog(engines[0]).entries())
        assert len(entries) == 240 and verify(entries).ok  # one unbroken chain
    finally:
        for engine in engines:
            engine.dispose()
