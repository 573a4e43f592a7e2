"""qa: call QA results, findings, batch jobs

Revision ID: qa_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "qa_0001"
down_revision = None
branch_labels = ("qa",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "qa_results",
        sa.Column("result_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("recording_id", sa.String(64)),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("campaign", sa.String(128)),
        sa.Column("flow", sa.String(128)),
        sa.Column("agent_id", sa.String(128)),
        sa.Column("call_started_at", sa.DateTime, nullable=False),
        sa.Column("checked_at", sa.DateTime, nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("passed", sa.Boolean, nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
        sa.Column("findings", sa.Integer, nullable=False),
    )
    op.create_index("ux_qa_results_call_source", "qa_results", ["call_id", "source"], unique=True)
    op.create_index("ix_qa_results_call_started_at", "qa_results", ["call_started_at"])
    op.create_table(
        "qa_findings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
        sa.Column(
            "result_id",
            sa.String(64),
            sa.ForeignKey("qa_results.result_id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("category", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("speaker", sa.String(16)),
        sa.Column("offset_ms", sa.BigInteger),
        sa.Column("phrase", sa.Text, nullable=False),
        sa.Column("wording", sa.Text, nullable=False),
        sa.Column("how", sa.String(16), nullable=False),
        sa.Column("rules_version", sa.String(64), nullable=False),
    )
    op.create_index("ix_qa_findings_result_id", "qa_findings", ["result_id"])
    op.create_table(
        "qa_batch_jobs",
        sa.Column("job_id", sa.String(64), primary_key=True),
        sa.Column("started_from", sa.DateTime, nullable=False),
        sa.Column("started_to", sa.DateTime, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer, nullable=False),
        sa.Column("done", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False),
    )
    op.create_table(
        "qa_batch_items",
        sa.Column(
            "job_id",
            sa.String(64),
            sa.ForeignKey("qa_batch_jobs.job_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("result_id", sa.String(64)),
        sa.Column("error", sa.String(200)),
    )


def downgrade() -> None:
    op.drop_table("qa_batch_items")
    op.drop_table("qa_batch_jobs")
    op.drop_index("ix_qa_findings_result_id", "qa_findings")
    op.drop_table("qa_findings")
    op.drop_index("ix_qa_results_call_started_at", "qa_results")
    op.drop_index("ux_qa_results_call_source", "qa_results")
    op.drop_table("qa_results")
