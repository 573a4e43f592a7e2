"""records: recordings carry their call's disposition; composite search indexes

Revision ID: records_0003
Revises: records_0002
Create Date: 2026-12-01

``disposition`` (how the call ended) is written when the recording is sealed, so the console
searches by it. Searches filter on business type, campaign or disposition and page newest
first: one index on (column, started_at) each serves both, and replaces the single-column
business type and campaign indexes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "records_0003"
down_revision = "records_0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("recordings", sa.Column("disposition", sa.String(32)))
    op.drop_index("ix_recordings_business_type", table_name="recordings")
    op.drop_index("ix_recordings_campaign", table_name="recordings")
    for col in ("business_type", "campaign", "disposition"):
        op.create_index(f"ix_recordings_{col}_started_at", "recordings", [col, "started_at"])


def downgrade() -> None:
    for col in ("business_type", "campaign", "disposition"):
        op.drop_index(f"ix_recordings_{col}_started_at", table_name="recordings")
    op.create_index("ix_recordings_campaign", "recordings", ["campaign"])
    op.create_index("ix_recordings_business_type", "recordings", ["business_type"])
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("disposition")
