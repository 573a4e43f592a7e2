"""The compliance package's SQL tables (SQLAlchemy metadata, listed in :mod:`shell.schema`).

Created by the ``compliance`` Alembic branch; numbers appear only as blind indexes (hex
HMAC-SM3 of the E.164 form). Also the storage form of DND windows shared with Redis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.dialects import sqlite as sq

from compliance.decision import DndWindow

md = sa.MetaData()
_TZ = sa.DateTime(timezone=True)
_IDX = sa.String(64)  # hex HMAC-SM3 blind index of the E.164 number

dnc = sa.Table(
    "compliance_dnc",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("source", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
)
dnc_events = sa.Table(
    "compliance_dnc_events",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("number_index", _IDX, nullable=False, index=True),
    sa.Column("action", sa.String(8), nullable=False),
    sa.Column("source", sa.String(32)),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("actor_role", sa.String(64)),
    sa.Column("at", _TZ, nullable=False),
)
dnd = sa.Table(
    "compliance_dnd",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("windows", sa.String(400), nullable=False),
    sa.Column("updated_at", _TZ, nullable=False),
)
consents = sa.Table(
    "compliance_consents",
    md,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("number_index", _IDX, nullable=False),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("scope", sa.String(200), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("granted_at", _TZ, nullable=False),
    sa.Column("expires_at", _TZ, nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("recording_offset_ms", sa.Integer),
    sa.Column("transcript_excerpt", sa.Text),
    sa.Column("revoked_at", _TZ),
)
sa.Index("ix_compliance_consents_lookup", consents.c.number_index, consents.c.purpose)
revocations = sa.Table(
    "compliance_consent_revocations",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("consent_id", sa.String(36), sa.ForeignKey("compliance_consents.id")),
    sa.Column("number_index", _IDX, nullable=False, index=True),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("revoked_at", _TZ, nullable=False),
)
decisions = sa.Table(
    "compliance_gate_decisions",
    md,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("attempt_id", sa.String(128), nullable=False, index=True),
    sa.Column("number_index", _IDX),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("campaign", sa.String(128)),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("reasons", sa.String(200), nullable=False),
    sa.Column("rules_version", sa.String(64), nullable=False),
    sa.Column("decided_at", _TZ, nullable=False),
    sa.Column("local_date", sa.String(10)),
    sa.Column("counted", sa.Boolean, nullable=False),
    sa.Column("dry_run", sa.Boolean, nullable=False),
)
sa.Index("ix_compliance_gate_decisions_counted", decisions.c.local_date, decisions.c.number_index)
counts = sa.Table(
    "compliance_daily_counts",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("local_date", sa.String(10), primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)
attempts = sa.Table(
    "compliance_attempts",
    md,
    sa.Column("number_index", _IDX, primary_key=True),
    sa.Column("attempt_id", sa.String(128), primary_key=True),
    sa.Column("local_date", sa.String(10), nullable=False),
    sa.Column("count_before", sa.Integer, nullable=False),
    sa.Column("created_at", _TZ, nullable=False),
)


def parse_dnd(text: str | None) -> tuple[DndWindow, ...]:
    """``"720-810,1260-540"`` (minutes) -> windows; the storage form shared with Redis."""
    if not text:
        return ()
    out = []
    for part in text.split(","):
        s, e = part.split("-")
        out.append(DndWindow(int(s), int(e)))
    return tuple(out)


def format_dnd(windows: Iterable[DndWindow]) -> str:
    return ",".join(f"{w.start_minute}-{w.end_minute}" for w in windows)


def insert_ignore(
    engine: sa.Engine,
    table: sa.Table,
    values: Mapping[str, object] | Sequence[Mapping[str, object]],
) -> sa.Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on PostgreSQL and SQLite (one row, or many in one
    statement)."""
    rows = [dict(values)] if isinstance(values, Mapping) else [dict(v) for v in values]
    if engine.dialect.name == "postgresql":
        return pg.insert(table).values(rows).on_conflict_do_nothing()
    if engine.dialect.name == "sqlite":
        return sq.insert(table).values(rows).on_conflict_do_nothing()
    raise NotImplementedError(engine.dialect.name)
