"""Every package's SQL tables, as one list of SQLAlchemy metadata.

Tables are defined once, in their package (``compliance/tables.py``, ``records/tables.py``, ...);
the Alembic migrations create them, and ``tests/foundation/test_schema_drift.py`` fails when the
two disagree (Alembic's autogenerate comparison must be empty). A package that adds tables adds
its metadata here.
"""

from __future__ import annotations

import sqlalchemy as sa

from bot.caller_handles import metadata as bot_metadata
from campaigns.callbacks import metadata as campaigns_metadata
from compliance.tables import md as compliance_metadata
from console.tables import metadata as console_metadata
from qa.tables import metadata as qa_metadata
from records.tables import metadata as records_metadata

ALL_METADATA: tuple[sa.MetaData, ...] = (
    compliance_metadata,
    records_metadata,
    campaigns_metadata,
    qa_metadata,
    console_metadata,
    bot_metadata,
)
