"""campaigns: callback tickets

Revision ID: campaigns_0001
Revises:
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "campaigns_0001"
down_revision = None
branch_labels = ("campaigns",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "callback_tickets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False, index=True),
        sa.Column("customer_bi", sa.String(64), nullable=False, index=True),
        sa.Column("masked_number", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("number_sealed", sa.LargeBinary, nullable=False),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("callback_tickets")
