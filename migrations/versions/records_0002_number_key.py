"""records: a recording's customer number sealed under its own wrapped data key

Revision ID: records_0002
Revises: records_0001
Create Date: 2026-12-01

``records.sealed_number`` is the one way numbers are sealed (recordings, callback tickets,
campaign lists): the number gets its own data key, wrapped by the key ring. Rows written before
keep ``customer_key_id`` NULL; their number stays sealed under the recording's data key and the
vault still opens it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "records_0002"
down_revision = "records_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recordings", sa.Column("customer_key_id", sa.String(64)))
    op.add_column("recordings", sa.Column("customer_wrapped_key", sa.LargeBinary))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("customer_wrapped_key")
        batch.drop_column("customer_key_id")
