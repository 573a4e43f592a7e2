"""SQLAlchemy Core tables of the human floor (``agent_*``, ``work_*``, ``callback_work``,
``webhook_*``).

Defined once here and listed in ``shell.schema``; ``migrations/versions/agents_0001_floor.py``
creates them and ``tests/foundation/test_schema_drift.py`` fails on drift. No table holds a
clear phone number: tickets carry the masked number and the blind index only.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

# One row per agent position: the mod_callcenter agent name, who works it, its team and status.
agent_desks = sa.Table(
    "agent_desks",
    metadata,
    sa.Column("agent", sa.String(128), primary_key=True),  # e.g. senior-1001@default
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("team", sa.String(32), nullable=False),  # senior | general
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("call_id", sa.String(64)),  # the call on the agent's line (on_call / wrap_up)
    sa.Column("since", sa.DateTime(timezone=True), nullable=False),
)

agent_status_log = sa.Table(
    "agent_status_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agent", sa.String(128), nullable=False, index=True),
    sa.Column("before", sa.String(16), nullable=False),
    sa.Column("after", sa.String(16), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("call_id", sa.String(64)),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# What an agent's screen pops for a call handed to a queue (the number sealed, as in tickets).
call_handoffs = sa.Table(
    "call_handoffs",
    metadata,
    sa.Column("call_id", sa.String(64), primary_key=True),
    sa.Column("queue", sa.String(32), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("intent", sa.String(64)),
    sa.Column("flags", sa.String(64), nullable=False),
    sa.Column("consent_state", sa.String(32)),
    sa.Column("conversation", sa.Text, nullable=False),  # JSON [[who, text], ...]
    sa.Column("flow", sa.String(64), nullable=False),
    sa.Column("path", sa.Text, nullable=False),
    sa.Column("customer_bi", sa.String(64)),
    sa.Column("masked_number", sa.String(32)),
    sa.Column("key_id", sa.String(32)),
    sa.Column("wrapped_key", sa.LargeBinary),
    sa.Column("number_sealed", sa.LargeBinary),
    sa.Column("agent", sa.String(128)),  # who got the call, once bridged
    sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=False),
)

# Work tickets the system writes (complaint, high-risk flag, unfinished request).
work_tickets = sa.Table(
    "work_tickets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("kind", sa.String(32), nullable=False),  # complaint | high_risk | unfinished
    sa.Column("category", sa.String(64), nullable=False),
    sa.Column("team", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # open | in_progress | resolved
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

work_ticket_history = sa.Table(
    "work_ticket_history",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ticket_id", sa.String(36), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

# How a callback ticket (campaigns.callbacks) is being worked: due time, claim, result.
callback_work = sa.Table(
    "callback_work",
    metadata,
    sa.Column("ticket_id", sa.String(36), primary_key=True),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("result", sa.String(32)),  # connected | denied:<reason> | failed:<cause>
    sa.Column("done_at", sa.DateTime(timezone=True)),
    sa.Column("alerted_at", sa.DateTime(timezone=True)),  # the overdue alert went out
)

# Outbound webhooks (CRM, anti-fraud): an outbox retried with backoff; ``dead`` = dead letter.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("target", sa.String(64), nullable=False),
    sa.Column("event", sa.String(32), nullable=False),
    sa.Column("call_id", sa.String(64)),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),  # pending | sent | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_error", sa.String(255)),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
)
