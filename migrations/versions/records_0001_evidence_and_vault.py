"""records: evidence chain, recording index, access audit

Revision ID: records_0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "records_0001"
down_revision = None
branch_labels = ("records",)
depends_on = None

GENESIS_HEX = "0" * 64


def upgrade() -> None:
    # Evidence: the head row is the lock every writer takes; entries are append-only.
    op.create_table(
        "evidence_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.execute(f"INSERT INTO evidence_head (id, seq, hash) VALUES (1, 0, '{GENESIS_HEX}')")
    op.create_table(
        "evidence_log",
        sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("ts", sa.String(40), nullable=False),
        sa.Column("call_id", sa.String(128), nullable=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_evidence_log_call_id", "evidence_log", ["call_id"])
    op.create_index("ix_evidence_log_kind", "evidence_log", ["kind"])

    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for verb in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER evidence_log_no_{verb.lower()} BEFORE {verb} ON evidence_log "
                "BEGIN SELECT RAISE(ABORT, 'evidence_log is append-only'); END"
            )
    elif bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION evidence_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'evidence_log is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER evidence_log_append_only BEFORE UPDATE OR DELETE ON evidence_log "
            "FOR EACH ROW EXECUTE FUNCTION evidence_log_append_only()"
        )

    # Recording index: metadata, blind index, sealed number, wrapped data key.
    op.create_table(
        "recordings",
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("customer_bi", sa.String(64), nullable=True),
        sa.Column("customer_masked", sa.String(32), nullable=True),
        sa.Column("customer_enc", sa.LargeBinary, nullable=True),
        sa.Column("campaign", sa.String(128), nullable=True),
        sa.Column("business_type", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("ended_at", sa.DateTime, nullable=False),
        sa.Column("duration_ms", sa.BigInteger, nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=True),
        sa.Column("flow_version", sa.String(64), nullable=True),
        sa.Column("consent_state", sa.String(32), nullable=True),
        sa.Column("media_type", sa.String(64), nullable=False),
        sa.Column("retain_until", sa.DateTime, nullable=False),
        sa.Column("storage_key", sa.String(255), nullable=False),
        sa.Column("key_id", sa.String(64), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("size_bytes", sa.BigInteger, nullable=True),
        sa.Column("plaintext_sm3", sa.String(64), nullable=True),
        sa.Column("source_path", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("stored_at", sa.DateTime, nullable=True),
    )
    for col in ("call_id", "customer_bi", "campaign", "business_type", "started_at", "status"):
        op.create_index(f"ix_recordings_{col}", "recordings", [col])
    op.create_table(
        "recording_flags",
        sa.Column(
            "recording_id",
            sa.String(64),
            sa.ForeignKey("recordings.recording_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("flag", sa.String(64), primary_key=True),
    )
    op.create_index("ix_recording_flags_flag", "recording_flags", ["flag"])
    op.create_table(
        "recording_access",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column("recording_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("allowed", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_recording_access_recording_id", "recording_access", ["recording_id"])


def downgrade() -> None:
    op.drop_table("recording_access")
    op.drop_table("recording_flags")
    op.drop_table("recordings")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS evidence_log_append_only ON evidence_log")
        op.execute("DROP FUNCTION IF EXISTS evidence_log_append_only()")
    op.drop_table("evidence_log")
    op.drop_table("evidence_head")
