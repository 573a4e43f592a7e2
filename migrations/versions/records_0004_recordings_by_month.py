"""records: the recordings index partitioned by month on PostgreSQL; flags without a foreign key

Revision ID: records_0004
Revises: records_0003
Create Date: 2026-12-01

On PostgreSQL ``recordings`` becomes ``PARTITION BY RANGE (started_at)`` with primary key
(recording_id, started_at): the table is rebuilt (renamed aside, the partitioned one created with
its default partition and one partition per month the existing rows cover, rows copied, the old
one dropped) in the migration's transaction. Months to come are created by
``records.partitions.ensure_partitions`` (vault start, daily job). ``recording_flags`` loses its
foreign key (a key cannot reference part of a partitioned table's key; the repository deletes a
recording's flags with it). SQLite gets the same key and the flags table without the foreign key.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision = "records_0004"
down_revision = "records_0003"
branch_labels = None
depends_on = None

COLUMNS = (
    "recording_id, call_id, status, customer_bi, customer_masked, customer_enc, "
    "customer_key_id, customer_wrapped_key, campaign, business_type, direction, started_at, "
    "ended_at, duration_ms, agent_id, flow_version, consent_state, disposition, media_type, "
    "retain_until, storage_key, key_id, wrapped_key, size_bytes, plaintext_sm3, source_path, "
    "created_at, stored_at"
)
FLAG_COLUMNS = "recording_id, flag"
SEARCH_INDEXES = {
    "ix_recordings_call_id": ["call_id"],
    "ix_recordings_customer_bi": ["customer_bi"],
    "ix_recordings_started_at": ["started_at"],
    "ix_recordings_status": ["status"],
    "ix_recordings_business_type_started_at": ["business_type", "started_at"],
    "ix_recordings_campaign_started_at": ["campaign", "started_at"],
    "ix_recordings_disposition_started_at": ["disposition", "started_at"],
}


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(128), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("customer_bi", sa.String(64)),
        sa.Column("customer_masked", sa.String(32)),
        sa.Column("customer_enc", sa.LargeBinary),
        sa.Column("customer_key_id", sa.String(64)),
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
        sa.Column("disposition", sa.String(32)),
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
    ]


def _month_tables(first: datetime, last: datetime) -> list[tuple[str, datetime, datetime]]:
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        start = datetime(year, month, 1)
        year, month = (year + month // 12, month % 12 + 1)
        months.append(
            (f"recordings_y{start.year:04d}m{start.month:02d}", start, datetime(year, month, 1))
        )
    return months


def _flags_without_foreign_key() -> None:
    op.create_table(
        "recording_flags_new",
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("flag", sa.String(64), primary_key=True),
    )
    op.execute(
        f"INSERT INTO recording_flags_new ({FLAG_COLUMNS}) "
        f"SELECT {FLAG_COLUMNS} FROM recording_flags"
    )
    op.drop_index("ix_recording_flags_flag", table_name="recording_flags")
    op.drop_table("recording_flags")
    op.rename_table("recording_flags_new", "recording_flags")
    op.create_index("ix_recording_flags_flag", "recording_flags", ["flag"])


def upgrade() -> None:
    _flags_without_foreign_key()
    for name in SEARCH_INDEXES:
        op.drop_index(name, table_name="recordings")
    op.rename_table("recordings", "recordings_old")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE recordings_old RENAME CONSTRAINT recordings_pkey TO recordings_old_pkey"
        )
        op.create_table("recordings", *_columns(), postgresql_partition_by="RANGE (started_at)")
        op.execute("CREATE TABLE recordings_default PARTITION OF recordings DEFAULT")
        first, last = bind.execute(
            sa.text("SELECT min(started_at), max(started_at) FROM recordings_old")
        ).one()
        if first is not None:
            for table, start, end in _month_tables(first, last):
                op.execute(
                    f"CREATE TABLE {table} PARTITION OF recordings FOR VALUES "
                    f"FROM ('{start.isoformat(sep=' ')}') TO ('{end.isoformat(sep=' ')}')"
                )
    else:
        op.create_table("recordings", *_columns())
    op.execute(f"INSERT INTO recordings ({COLUMNS}) SELECT {COLUMNS} FROM recordings_old")
    op.drop_table("recordings_old")
    for name, columns in SEARCH_INDEXES.items():
        op.create_index(name, "recordings", columns)


def downgrade() -> None:
    for name in SEARCH_INDEXES:
        op.drop_index(name, table_name="recordings")
    op.rename_table("recordings", "recordings_parted")
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "ALTER TABLE recordings_parted "
            "RENAME CONSTRAINT recordings_pkey TO recordings_parted_pkey"
        )
    columns = _columns()
    for column in columns:
        if column.name == "started_at":
            column.primary_key = False
            column.nullable = False
    op.create_table("recordings", *columns)
    op.execute(f"INSERT INTO recordings ({COLUMNS}) SELECT {COLUMNS} FROM recordings_parted")
    op.drop_table("recordings_parted")  # its partitions go with it
    for name, cols in SEARCH_INDEXES.items():
        op.create_index(name, "recordings", cols)
    op.create_table(
        "recording_flags_old",
        sa.Column(
            "recording_id",
            sa.String(64),
            sa.ForeignKey("recordings.recording_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("flag", sa.String(64), primary_key=True),
    )
    op.execute(
        f"INSERT INTO recording_flags_old ({FLAG_COLUMNS}) "
        f"SELECT {FLAG_COLUMNS} FROM recording_flags"
    )
    op.drop_index("ix_recording_flags_flag", table_name="recording_flags")
    op.drop_table("recording_flags")
    op.rename_table("recording_flags_old", "recording_flags")
    op.create_index("ix_recording_flags_flag", "recording_flags", ["flag"])
