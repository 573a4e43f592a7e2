"""SQL engine construction and schema migration (SQLAlchemy 2 + Alembic).

One Alembic environment (``migrations/``) with one branch per package (``branch_labels``:
``compliance``, ``records``, ...); :func:`migrate` upgrades every head. SQLite is the embedded
default, PostgreSQL the production database.

Long-running processes build their engine with :func:`engine_for` (the pool from settings:
``IVR_DB_POOL_SIZE``, ``IVR_DB_MAX_OVERFLOW``, ``IVR_DB_POOL_TIMEOUT_S``,
``IVR_DB_POOL_RECYCLE_S``; ``IVR_DB_PGBOUNCER=true`` behind PgBouncer in transaction pooling,
where psycopg must not prepare statements on the server). With many processes per host, put
PgBouncer in front of PostgreSQL (``deploy/pgbouncer/pgbouncer.ini``) so the server sees a few
dozen connections, not every process's pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ivr.settings import REPO_ROOT, Settings

MIGRATIONS_DIR = REPO_ROOT / "migrations"


@dataclass(frozen=True, slots=True)
class DbPool:
    """How a process pools its PostgreSQL connections (SQLAlchemy's queue pool)."""

    size: int = 5
    max_overflow: int = 10
    timeout_s: float = 10.0
    recycle_s: int = 1800
    pgbouncer: bool = False


def engine_for(settings: Settings) -> Engine:
    """The engine of a long-running process: the database and the pool from ``settings``."""
    pool = DbPool(
        size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        timeout_s=settings.db_pool_timeout_s,
        recycle_s=settings.db_pool_recycle_s,
        pgbouncer=settings.db_pgbouncer,
    )
    return make_engine(settings.sqlalchemy_url, pool)


def make_engine(url: str, pool: DbPool | None = None) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL gets
    ``pool`` (default :class:`DbPool`) and a liveness check of each connection it hands out."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg"))
    pool = pool or DbPool()
    connect_args: dict[str, Any] = {}
    if pool.pgbouncer:
        connect_args["prepare_threshold"] = None  # psycopg: never PREPARE on the server
    return create_engine(
        url,
        pool_pre_ping=True,
        pool_size=pool.size,
        max_overflow=pool.max_overflow,
        pool_timeout=pool.timeout_s,
        pool_recycle=pool.recycle_s,
        connect_args=connect_args,
    )


def alembic_config(url: str) -> Config:
    """The Alembic config pointing at ``migrations/`` and ``url``."""
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(url: str) -> None:
    """Bring the database at ``url`` to every branch's head (idempotent)."""
    command.upgrade(alembic_config(url), "heads")
