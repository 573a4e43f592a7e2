"""Tables are defined once (SQLAlchemy metadata); the Alembic migrations must build exactly them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from helpers.pg import fresh_database

from ivr.db import make_engine, migrate
from records.partitions import is_partition
from shell.schema import ALL_METADATA


@pytest.fixture(params=["sqlite", "postgresql"])
def migrated_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'drift.db'}"
        migrate(url)
        yield url
        return
    with fresh_database("ivr_drift", migrate) as url:
        yield url


def _not_a_partition(name: str | None, type_: str, parents: object) -> bool:
    return not is_partition(name)  # monthly partitions are made at run time


def drift(url: str, metadata: list[sa.MetaData]) -> list[object]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": _not_a_partition}
            context = MigrationContext.configure(conn, opts=opts)
            # alembic compares a sequence of MetaData too (its stubs say one)
            return list(compare_metadata(context, metadata))  # type: ignore[arg-type]
    finally:
        engine.dispose()


def test_migrations_build_exactly_the_tables_the_code_defines(migrated_url: str) -> None:
    assert drift(migrated_url, list(ALL_METADATA)) == []


def test_a_column_missing_from_the_migrations_is_reported(migrated_url: str) -> None:
    extra = sa.MetaData()
    for metadata in ALL_METADATA:
        for table in metadata.tables.values():
            table.to_metadata(extra)
    sa.Table("compliance_dnd", extra, sa.Column("note", sa.Text), extend_existing=True)
    changes = drift(migrated_url, [extra])
    assert [change[0] for change in changes] == ["add_column"]  # type: ignore[index]
