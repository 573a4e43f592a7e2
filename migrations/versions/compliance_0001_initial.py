"""compliance: DNC, DND, consent ledger, gate decisions, daily counts.

Revision ID: compliance_0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "compliance_0001"
down_revision = None
branch_labels = ("compliance",)
depends_on = None

TZ = sa.DateTime(timezone=True)
IDX = sa.String(64)  # hex HMAC-SM3 blind index of the E.164 number


def upgrade() -> None:
    op.create_table(
        "compliance_dnc",
        sa.Column("number_index", IDX, primary_key=True),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )
    op.create_table(
        "compliance_dnc_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number_index", IDX, nullable=False, index=True),
        sa.Column("action", sa.String(8), nullable=False),
        sa.Column("source", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("actor_role", sa.String(64)),
        sa.Column("at", TZ, nullable=False),
    )
    op.create_table(
        "compliance_dnd",
        sa.Column("number_index", IDX, primary_key=True),
        sa.Column("windows", sa.String(400), nullable=False),
        sa.Column("updated_at", TZ, nullable=False),
    )
    op.create_table(
        "compliance_consents",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("number_index", IDX, nullable=False),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(200), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("granted_at", TZ, nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("call_id", sa.String(128)),
        sa.Column("recording_offset_ms", sa.Integer),
        sa.Column("transcript_excerpt", sa.Text),
        sa.Column("revoked_at", TZ),
    )
    op.create_index(
        "ix_compliance_consents_lookup", "compliance_consents", ["number_index", "purpose"]
    )
    op.create_table(
        "compliance_consent_revocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("consent_id", sa.String(36), sa.ForeignKey("compliance_consents.id")),
        sa.Column("number_index", IDX, nullable=False, index=True),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("revoked_at", TZ, nullable=False),
    )
    op.create_table(
        "compliance_gate_decisions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("attempt_id", sa.String(128), nullable=False, index=True),
        sa.Column("number_index", IDX),
        sa.Column("purpose", sa.String(32), nullable=False),
        sa.Column("campaign", sa.String(128)),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("reasons", sa.String(200), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("decided_at", TZ, nullable=False),
        sa.Column("local_date", sa.String(10)),
        sa.Column("counted", sa.Boolean, nullable=False),
        sa.Column("dry_run", sa.Boolean, nullable=False),
    )
    op.create_index(
        "ix_compliance_gate_decisions_counted",
        "compliance_gate_decisions",
        ["local_date", "number_index"],
    )
    op.create_table(
        "compliance_daily_counts",
        sa.Column("number_index", IDX, primary_key=True),
        sa.Column("local_date", sa.String(10), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
    )
    op.create_table(
        "compliance_attempts",
        sa.Column("number_index", IDX, primary_key=True),
        sa.Column("attempt_id", sa.String(128), primary_key=True),
        sa.Column("local_date", sa.String(10), nullable=False),
        sa.Column("count_before", sa.Integer, nullable=False),
        sa.Column("created_at", TZ, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "compliance_attempts",
        "compliance_daily_counts",
        "compliance_gate_decisions",
        "compliance_consent_revocations",
        "compliance_consents",
        "compliance_dnd",
        "compliance_dnc_events",
        "compliance_dnc",
    ):
        op.drop_table(table)
