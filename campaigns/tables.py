"""The dialler's SQL tables (SQLAlchemy metadata, listed in :mod:`shell.schema`).

Created by the ``campaigns`` Alembic branch (``campaigns_0002``). Times are naive UTC
(:mod:`records.timeutil`). Numbers are sealed (:mod:`records.sealed_number`): blind index,
masked form, SM4-GCM ciphertext under a wrapped data key, context ``campaign-contact|<id>``;
an attempt carries the blind index only (for the DNC sweep and the one-call-per-number rule).

- ``campaigns``: one row per campaign (its :class:`campaigns.spec.CampaignSpec` and state).
- ``campaign_contacts``: the list, one row per distinct number per campaign (duplicates merged).
- ``campaign_attempts``: one row per dial (its id is the gate's attempt id and the leg's
  ``origination_uuid``): ``queued`` → ``claimed`` (lease) → ``dialling`` → ``done``, or
  ``cancelled`` (DNC, stop); ``due_at`` orders the queue.
- ``campaign_imports``: each imported file by SHA-256 (importing it again is a no-op).
- ``campaign_busy_numbers``: a number being dialled or on a call right now (primary key: two
  dialler processes never dial one number at the same time, whatever the campaign).
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()
_IDX = sa.String(64)

QUEUED, CLAIMED, DIALLING, DONE, CANCELLED = "queued", "claimed", "dialling", "done", "cancelled"
"""An attempt's states (``campaign_attempts.state``)."""
ACTIVE = (CLAIMED, DIALLING)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("flow_id", sa.String(64), nullable=False),
    sa.Column("flow_version", sa.String(64)),
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("caller_ids", sa.Text, nullable=False),  # JSON list
    sa.Column("windows", sa.Text, nullable=False),  # JSON list of "HH:MM-HH:MM"
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("max_attempts", sa.Integer, nullable=False),
    sa.Column("retry_policy", sa.Text, nullable=False),  # JSON
    sa.Column("max_concurrency", sa.Integer, nullable=False),
    sa.Column("max_cps", sa.Float, nullable=False),
    sa.Column("pacing", sa.String(16), nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("abandon_target", sa.Float, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("name", name="uq_campaigns_name"),
)

contacts = sa.Table(
    "campaign_contacts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False, index=True
    ),
    sa.Column("number_bi", _IDX, nullable=False),
    sa.Column("masked_number", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("number_sealed", sa.LargeBinary, nullable=False),
    sa.Column("name", sa.String(128)),
    sa.Column("timezone", sa.String(64)),
    sa.Column("variables", sa.Text, nullable=False),  # JSON object for the flow's prompts
    sa.Column("source_row", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("campaign_id", "number_bi", name="uq_campaign_contacts_number"),
)

attempts = sa.Table(
    "campaign_attempts",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("contact_id", sa.String(36), sa.ForeignKey("campaign_contacts.id"), nullable=False),
    sa.Column("number_bi", _IDX, nullable=False, index=True),
    sa.Column("attempt_no", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("due_at", sa.DateTime, nullable=False),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("claimed_by", sa.String(64)),
    sa.Column("lease_until", sa.DateTime),
    sa.Column("dialled_at", sa.DateTime),
    sa.Column("ended_at", sa.DateTime),
    sa.Column("caller_id", sa.String(32)),
    sa.Column("disposition", sa.String(32)),
    sa.Column("hangup_cause", sa.String(64)),
    sa.Column("gate_reasons", sa.String(200)),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("ix_campaign_attempts_queue", "state", "due_at"),
    sa.Index("ix_campaign_attempts_campaign", "campaign_id", "state"),
)

imports = sa.Table(
    "campaign_imports",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("campaign_id", sa.String(36), sa.ForeignKey("campaigns.id"), nullable=False),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("filename", sa.String(256), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("accepted", sa.Integer, nullable=False),
    sa.Column("merged", sa.Integer, nullable=False),
    sa.Column("errors", sa.Text, nullable=False),  # JSON list of {row, column, why}
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("campaign_id", "sha256", name="uq_campaign_imports_file"),
)

busy_numbers = sa.Table(
    "campaign_busy_numbers",
    metadata,
    sa.Column("number_bi", _IDX, primary_key=True),
    sa.Column("attempt_id", sa.String(36), nullable=False),
    sa.Column("since", sa.DateTime, nullable=False),
)
