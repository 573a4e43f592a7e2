"""SQLAlchemy Core tables of the records package.

Defined once here; the ``records_*`` migrations create them, and a test fails on drift.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

evidence_head = sa.Table(
    "evidence_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

evidence_log = sa.Table(
    "evidence_log",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(40), nullable=False),
    sa.Column("call_id", sa.String(128)),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
sa.Index("ix_evidence_log_call_id", evidence_log.c.call_id)
sa.Index("ix_evidence_log_kind", evidence_log.c.kind)

# On PostgreSQL the recordings index is partitioned by month of ``started_at`` (records_0004,
# ``records.partitions``): two years and more of calls (100M rows) stay searchable, each month
# its own table and indexes. A partitioned table's primary key must hold the partition key, so
# the key is (recording_id, started_at); recording ids are random UUIDs, unique on their own.
recordings = sa.Table(
    "recordings",
    metadata,
    sa.Column("recording_id", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(128), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("customer_bi", sa.String(64)),
    sa.Column("customer_masked", sa.String(32)),
    sa.Column("customer_enc", sa.LargeBinary),  # records.sealed_number ciphertext
    sa.Column("customer_key_id", sa.String(64)),  # NULL: legacy, sealed under the recording key
    sa.Column("customer_wrapped_key", sa.LargeBinary),
    sa.Column("campaign", sa.String(128)),
    sa.Column("business_type", sa.String(64), nullable=False),
    sa.Column("direction", sa.String(16), nullable=False),
    sa.Column("started_at", sa.DateTime, primary_key=True),
    sa.Column("ended_at", sa.DateTime, nullable=False),
    sa.Column("duration_ms", sa.BigInteger, nullable=False),
    sa.Column("agent_id", sa.String(128)),
    sa.Column("flow_version", sa.String(64)),
    sa.Column("consent_state", sa.String(32)),
    sa.Column("disposition", sa.String(32)),  # how the call ended (written when it is sealed)
    sa.Column("media_type", sa.String(64), nullable=False),
    sa.Column("retain_until", sa.DateTime, nullable=False),
    sa.Column("storage_key", sa.String(255), nullable=False),
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("size_bytes", sa.BigInteger),
    sa.Column("plaintext_sm3", sa.String(64)),
    sa.Column("source_path", sa.Text),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("stored_at", sa.DateTime),
    postgresql_partition_by="RANGE (started_at)",
)
for _col in ("call_id", "customer_bi", "started_at", "status"):
    sa.Index(f"ix_recordings_{_col}", recordings.c[_col])
# searches filter on one of these and page newest first (records_0003)
for _col in ("business_type", "campaign", "disposition"):
    sa.Index(f"ix_recordings_{_col}_started_at", recordings.c[_col], recordings.c.started_at)

# No foreign key to ``recordings``: a key cannot reference part of a partitioned table's
# primary key; the repository (records.recording_index) deletes a recording's flags with it.
recording_flags = sa.Table(
    "recording_flags",
    metadata,
    sa.Column("recording_id", sa.String(64), primary_key=True),
    sa.Column("flag", sa.String(64), primary_key=True),
    # the recording's start time (immutable): one flag's recordings newest first (records_0005)
    sa.Column("started_at", sa.DateTime, nullable=False),
)
sa.Index(
    "ix_recording_flags_flag_started_at",
    recording_flags.c.flag,
    recording_flags.c.started_at,
    recording_flags.c.recording_id,
)

recording_access = sa.Table(
    "recording_access",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("recording_id", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("actor_id", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("allowed", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime, nullable=False),
)
sa.Index("ix_recording_access_recording_id", recording_access.c.recording_id)
