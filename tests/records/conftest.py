"""Fixtures for the records tests: a migrated SQLite file and a throwaway PostgreSQL database."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from helpers.clock import FakeClock
from helpers.pg import fresh_database
from moto.server import ThreadedMotoServer

from ivr.db import alembic_config, make_engine
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.vault import RetentionPolicy, Vault
from shell.services import free_port

GENESIS_HEX = "0" * 64


def migrate_records(url: str) -> None:
    """Only the records branch: tests do not depend on other packages' migrations."""
    command.upgrade(alembic_config(url), "records@head")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated, dropped afterwards."""
    with fresh_database("records_test", migrate_records) as url:
        yield url


def reset_pg(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE evidence_log, recording_flags, recording_access, recordings")
        conn.exec_driver_sql(f"UPDATE evidence_head SET seq = 0, hash = '{GENESIS_HEX}'")
    engine.dispose()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 API (moto's server) on a free loopback port, for one test module."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    migrate_records(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs on a migrated SQLite file and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'ivr.db'}"
        migrate_records(url)
        return url
    url = str(request.getfixturevalue("pg_url"))
    reset_pg(url)
    return url


@pytest.fixture
def engine(db_url: str) -> Iterator[sa.Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def unguarded(engine: sa.Engine) -> Iterator[sa.Engine]:
    """The engine with the append-only triggers off: what a privileged attacker would do."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS evidence_log_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS evidence_log_no_delete")
        else:
            conn.exec_driver_sql(
                "ALTER TABLE evidence_log DISABLE TRIGGER evidence_log_append_only"
            )
    yield engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE evidence_log ENABLE TRIGGER evidence_log_append_only")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime(2025, 3, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def master_key() -> bytes:
    return os.urandom(16)


@pytest.fixture
def bi_key() -> bytes:
    return os.urandom(16)


def build_vault(
    engine: sa.Engine, root: Path, keyring: Keyring, bi_key: bytes, clock: FakeClock, **kw: Any
) -> Vault:
    return Vault(
        engine,
        FileBlobStore(root),
        keyring,
        bi_key,
        SqlEvidenceLog(engine, clock=clock),
        RetentionPolicy(2, {"wealth": 5}),
        clock=clock,
        **kw,
    )


@pytest.fixture
def vault(
    engine: sa.Engine, tmp_path: Path, master_key: bytes, bi_key: bytes, clock: FakeClock
) -> Vault:
    return build_vault(engine, tmp_path / "vault", Keyring.single(master_key), bi_key, clock)


@pytest.fixture
def make_vault(
    engine: sa.Engine, tmp_path: Path, bi_key: bytes, clock: FakeClock
) -> Callable[..., Vault]:
    """Another vault over the same database and directory (e.g. with a new key ring)."""

    def make(keyring: Keyring, **kw: Any) -> Vault:
        return build_vault(engine, tmp_path / "vault", keyring, bi_key, clock, **kw)

    return make
