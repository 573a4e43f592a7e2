"""bot: caller handles (the customer as Rasa sees it: an opaque, expiring handle)

Revision ID: bot_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "bot_0001"
down_revision = None
branch_labels = ("bot",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "caller_handles",
        sa.Column("digest", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("customer_bi", sa.String(64), nullable=False),
        sa.Column("masked_number", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("number_sealed", sa.LargeBinary, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
    )


def downgrade() -> None:
    op.drop_table("caller_handles")
