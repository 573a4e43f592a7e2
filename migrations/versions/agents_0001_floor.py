"""agents: desks, status log, call hand-offs, work tickets, callback work, webhooks

Revision ID: agents_0001
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "agents_0001"
down_revision = None
branch_labels = ("agents",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_desks",
        sa.Column("agent", sa.String(128), primary_key=True),
        sa.Column("username", sa.String(64), nullable=False, unique=True),
        sa.Column("team", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "agent_status_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("agent", sa.String(128), nullable=False),
        sa.Column("before", sa.String(16), nullable=False),
        sa.Column("after", sa.String(16), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_agent_status_log_agent", "agent_status_log", ["agent"])
    op.create_table(
        "call_handoffs",
        sa.Column("call_id", sa.String(64), primary_key=True),
        sa.Column("queue", sa.String(32), nullable=False),
        sa.Column("priority", sa.Integer, nullable=False),
        sa.Column("reason", sa.String(64), nullable=False),
        sa.Column("intent", sa.String(64)),
        sa.Column("flags", sa.String(64), nullable=False),
        sa.Column("consent_state", sa.String(32)),
        sa.Column("conversation", sa.Text, nullable=False),
        sa.Column("flow", sa.String(64), nullable=False),
        sa.Column("path", sa.Text, nullable=False),
        sa.Column("customer_bi", sa.String(64)),
        sa.Column("masked_number", sa.String(32)),
        sa.Column("key_id", sa.String(32)),
        sa.Column("wrapped_key", sa.LargeBinary),
        sa.Column("number_sealed", sa.LargeBinary),
        sa.Column("agent", sa.String(128)),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "work_tickets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("category", sa.String(64), nullable=False),
        sa.Column("team", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assignee", sa.String(64)),
        sa.Column("customer_bi", sa.String(64)),
        sa.Column("masked_number", sa.String(32)),
        sa.Column("excerpt", sa.Text, nullable=False),
        sa.Column("flow_path", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(64), nullable=False),
        sa.Column("recording_ref", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("call_id", "kind", name="uq_work_tickets_call_kind"),
    )
    op.create_index("ix_work_tickets_call_id", "work_tickets", ["call_id"])
    op.create_table(
        "work_ticket_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.String(36), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_work_ticket_history_ticket_id", "work_ticket_history", ["ticket_id"])
    op.create_table(
        "callback_work",
        sa.Column("ticket_id", sa.String(36), primary_key=True),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(64)),
        sa.Column("claimed_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("result", sa.String(32)),
        sa.Column("done_at", sa.DateTime(timezone=True)),
        sa.Column("alerted_at", sa.DateTime(timezone=True)),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("target", sa.String(64), nullable=False),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64)),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(255)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
    )
    op.create_index("ix_webhook_deliveries_status", "webhook_deliveries", ["status"])


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("callback_work")
    op.drop_table("work_ticket_history")
    op.drop_table("work_tickets")
    op.drop_table("call_handoffs")
    op.drop_table("agent_status_log")
    op.drop_table("agent_desks")
