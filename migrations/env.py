"""Alembic environment: one branch per package; the tables' one definition is `shell.schema`.

Migrations are written by hand (or drafted by `alembic revision --autogenerate` against
`ALL_METADATA`); `tests/foundation/test_schema_drift.py` fails when they drift from the code.
"""

from __future__ import annotations

from alembic import context

from ivr.db import make_engine
from records.partitions import is_partition
from shell.schema import ALL_METADATA

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=list(ALL_METADATA),
        # the recordings index's monthly partitions are made at run time (records.partitions)
        include_name=lambda name, type_, parents: not is_partition(name),
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
