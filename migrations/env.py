"""Alembic environment: migrations are written by hand, one branch per package."""

from __future__ import annotations

from alembic import context

from ivr.db import make_engine

url = context.config.get_main_option("sqlalchemy.url")
assert url is not None
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=None)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
