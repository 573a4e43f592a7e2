"""The recordings index by month on PostgreSQL (issue 19): the migration keeps every row and flag,
months are created ahead, a row of a month without a table yet is never refused and moves into
its month when the month is made, and a dated search reads only the months it asks for."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from helpers.pg import fresh_database

from ivr.db import alembic_config, make_engine, migrate
from records.partitions import (
    DEFAULT_PARTITION,
    Month,
    ensure_partitions,
    existing_partitions,
    months_ahead,
    months_between,
)
from records.recording import RecordingQuery
from records.recording_index import RecordingIndex
from records.tables import recording_flags, recordings

NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)


def row(started: datetime, **extra: object) -> dict[str, object]:
    at = started.astimezone(UTC).replace(tzinfo=None)
    values: dict[str, object] = {
        "recording_id": uuid.uuid4().hex,
        "call_id": f"call-{uuid.uuid4().hex[:8]}",
        "status": "stored",
        "business_type": "marketing",
        "direction": "outbound",
        "started_at": at,
        "ended_at": at + timedelta(minutes=2),
        "duration_ms": 120_000,
        "media_type": "audio/wav",
        "retain_until": at + timedelta(days=730),
        "storage_key": f"k/{uuid.uuid4().hex}",
        "key_id": "k1",
        "wrapped_key": b"\x00" * 16,
        "created_at": at,
    }
    values.update(extra)
    return values


def test_months_roll_over_the_year() -> None:
    assert [m.table for m in months_ahead(datetime(2026, 11, 30, tzinfo=UTC), 3)] == [
        "recordings_y2026m11",
        "recordings_y2026m12",
        "recordings_y2027m01",
        "recordings_y2027m02",
    ]
    assert Month(2026, 12).end == datetime(2027, 1, 1)
    span = months_between(datetime(2025, 12, 31), datetime(2026, 2, 1))
    assert [m.table for m in span] == [
        "recordings_y2025m12",
        "recordings_y2026m01",
        "recordings_y2026m02",
    ]


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database("ivr_parts", migrate) as url:
        yield url


def test_the_migration_keeps_every_row_and_flag_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    command.upgrade(alembic_config(url), "records@records_0003")
    engine = make_engine(url)
    old = [row(NOW), row(NOW - timedelta(days=400))]
    with engine.begin() as conn:
        conn.execute(recordings.insert(), old)
        conn.execute(
            recording_flags.insert(), [{"recording_id": old[0]["recording_id"], "flag": "x"}]
        )
    migrate(url)
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(recordings.c.recording_id)).scalars())
        flags = conn.execute(sa.select(recording_flags.c.flag)).scalars().all()
    engine.dispose()
    assert ids == {r["recording_id"] for r in old} and flags == ["x"]
    assert ensure_partitions(make_engine(url), NOW) == []  # nothing to partition on SQLite


def test_the_migration_keeps_every_row_and_flag_in_its_month() -> None:
    with fresh_database("ivr_parts") as url:
        cfg = alembic_config(url)
        command.upgrade(cfg, "records@records_0003")
        engine = make_engine(url)
        old = [row(NOW - timedelta(days=40)), row(NOW), row(NOW - timedelta(days=400))]
        with engine.begin() as conn:
            conn.execute(recordings.insert(), old)
            conn.execute(
                recording_flags.insert(),
                [{"recording_id": old[0]["recording_id"], "flag": "qa_failed"}],
            )
        migrate(url)
        with engine.connect() as conn:
            ids = set(conn.execute(sa.select(recordings.c.recording_id)).scalars())
            flags = conn.execute(sa.select(recording_flags.c.flag)).scalars().all()
            parts = existing_partitions(conn)
            where = {
                rid: conn.execute(
                    sa.text(
                        "SELECT tableoid::regclass::text FROM recordings WHERE recording_id=:r"
                    ),
                    {"r": rid},
                ).scalar_one()
                for rid in ids
            }
        engine.dispose()
        assert ids == {r["recording_id"] for r in old} and flags == ["qa_failed"]
        assert {"recordings_y2025m10", "recordings_y2026m10", "recordings_y2026m12"} <= parts
        assert DEFAULT_PARTITION in parts
        assert where[old[1]["recording_id"]] == "recordings_y2026m12"
        assert where[old[2]["recording_id"]] == "recordings_y2025m10"


def test_a_month_without_its_table_loses_nothing_and_moves_in_when_made(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        made = ensure_partitions(engine, NOW)
        assert {m.table for m in months_ahead(NOW)} <= set(made)
        assert ensure_partitions(engine, NOW) == []  # idempotent
        later = NOW + timedelta(days=200)  # 2027-06: no table yet
        early = row(later, campaign="spring")
        with engine.begin() as conn:
            conn.execute(recordings.insert(), [early])
        index = RecordingIndex(engine)
        query = RecordingQuery(campaign="spring", started_from=later - timedelta(days=1))
        assert index.search_ids(query, None) == [early["recording_id"]]
        made_later = ensure_partitions(engine, later)
        assert "recordings_y2027m06" in made_later
        with engine.connect() as conn:
            home = conn.execute(
                sa.text("SELECT tableoid::regclass::text FROM recordings WHERE recording_id=:r"),
                {"r": early["recording_id"]},
            ).scalar_one()
            left = conn.execute(sa.text(f"SELECT count(*) FROM {DEFAULT_PARTITION}")).scalar_one()
        assert home == "recordings_y2027m06" and left == 0
        assert index.search_ids(query, None) == [early["recording_id"]]
    finally:
        engine.dispose()


def test_a_dated_search_reads_only_its_months(pg_url: str) -> None:
    engine = make_engine(pg_url)
    try:
        ensure_partitions(engine, NOW - timedelta(days=90), ahead=6)
        with engine.begin() as conn:
            conn.execute(
                recordings.insert(),
                [row(NOW - timedelta(days=d), campaign="c1") for d in range(0, 90, 3)],
            )
            conn.execute(sa.text("ANALYZE recordings"))
            start = (NOW - timedelta(days=5)).replace(tzinfo=None)
            plan = "\n".join(
                conn.execute(
                    sa.text(
                        "EXPLAIN SELECT recording_id FROM recordings WHERE campaign = 'c1' "
                        "AND started_at >= :start ORDER BY started_at DESC LIMIT 50"
                    ),
                    {"start": start},
                ).scalars()
            )
        assert "recordings_y2026m11" in plan and "recordings_y2026m12" in plan
        assert "recordings_y2026m09" not in plan and "recordings_y2026m10" not in plan
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_a_search_by_qa_flag_reads_the_flags_newest_first(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """records_0005: with a flag and no customer the page comes from the flag's side; the
    rows, their order and the pages are those of the plain filter."""
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
    else:
        url = f"sqlite:///{tmp_path / 'ivr.db'}"
        migrate(url)
    engine = make_engine(url)
    try:
        if backend == "postgresql":
            ensure_partitions(engine, NOW - timedelta(days=90), ahead=6)
        rows = [
            row(NOW - timedelta(hours=5 * i), business_type=("loan", "card")[i % 2])
            for i in range(240)
        ]
        flags = [
            {"recording_id": r["recording_id"], "flag": f, "started_at": r["started_at"]}
            for i, r in enumerate(rows)
            for f, every in (("complaint", 3), ("high_risk", 4))
            if i % every == 0
        ]
        with engine.begin() as conn:
            conn.execute(recordings.insert(), rows)
            conn.execute(recording_flags.insert(), flags)
        flagged = {(f["recording_id"], f["flag"]) for f in flags}
        index = RecordingIndex(engine)
        since = NOW - timedelta(days=40)
        started = {r["recording_id"]: NOW - timedelta(hours=5 * i) for i, r in enumerate(rows)}

        def expected(*wanted: str, business: str | None = None) -> list[object]:
            return [
                r["recording_id"]
                for r in rows  # newest first already
                if all((r["recording_id"], f) in flagged for f in wanted)
                and (business is None or r["business_type"] == business)
                and started[r["recording_id"]] >= since
            ]

        for wanted, business in ((("complaint",), "loan"), (("complaint", "high_risk"), None)):
            want = expected(*wanted, business=business)
            assert len(want) > 12
            query = RecordingQuery(
                flags=wanted, business_type=business, started_from=since, limit=10
            )
            assert index.search_ids(query, None) == want[:10]
            second = dataclasses.replace(query, offset=10)
            assert index.search_ids(second, None) == want[10:20]
            page = index.search_rows(query, None)
            assert [p["recording_id"] for p in page] == want[:10]
            assert all(set(wanted) <= set(p["qa_flags"]) for p in page)
        if backend == "postgresql":
            with engine.begin() as conn:
                conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # 120 rows: tiny
                plan = "\n".join(
                    conn.execute(
                        sa.text(
                            "EXPLAIN SELECT f.recording_id FROM recording_flags f "
                            "WHERE f.flag = 'complaint' ORDER BY f.started_at DESC LIMIT 50"
                        )
                    ).scalars()
                )
            assert "ix_recording_flags_flag_started_at" in plan
    finally:
        engine.dispose()
