"""SQLAlchemy Core tables of the console: users and sessions (``auth_*``), and the versioned
documents the console edits (``console_*``: flow, prompt-table and rules drafts, published
versions, changes waiting for four-eyes approval).

Defined once here and listed in ``shell.schema``; the ``auth_*`` and ``console_*`` migrations
create them, and ``tests/foundation/test_schema_drift.py`` fails on drift.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

auth_users = sa.Table(
    "auth_users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("os_user", sa.String(64), unique=True),
    sa.Column("disabled", sa.Boolean, nullable=False),
    sa.Column("failed_logins", sa.Integer, nullable=False),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("token_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Browser sessions (cookie) and API refresh tokens: only SHA-256 digests of the secrets are kept.
auth_sessions = sa.Table(
    "auth_sessions",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("user_id", sa.String(36), sa.ForeignKey("auth_users.id"), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # browser | refresh
    sa.Column("secret_digest", sa.String(64), nullable=False, unique=True),
    sa.Column("csrf_digest", sa.String(64)),
    sa.Column("family", sa.String(36), nullable=False),  # refresh-token rotation family
    sa.Column("token_version", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
)
sa.Index("ix_auth_sessions_user_id", auth_sessions.c.user_id)
sa.Index("ix_auth_sessions_family", auth_sessions.c.family)

# The working copy of a document (one per kind and name); ``revision`` is its optimistic lock.
console_drafts = sa.Table(
    "console_drafts",
    metadata,
    sa.Column("doc_kind", sa.String(16), primary_key=True),  # flow | prompts | rules
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("layout", sa.Text, nullable=False),
    sa.Column("updated_by", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

# Every version ever published (by the console, a rollback, or found changed on disk).
console_versions = sa.Table(
    "console_versions",
    metadata,
    sa.Column("doc_kind", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("layout", sa.Text, nullable=False),
    sa.Column("content_sha256", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),  # publish | rollback | disk
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("approved_by", sa.String(64)),
    sa.Column("change_id", sa.String(36)),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
)

# A change submitted for publishing that needs a second person's approval.
console_changes = sa.Table(
    "console_changes",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("doc_kind", sa.String(16), nullable=False),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("base_version", sa.Integer, nullable=False),
    sa.Column("content", sa.Text, nullable=False),
    sa.Column("layout", sa.Text, nullable=False),
    sa.Column("touches", sa.Text, nullable=False),  # JSON list of what makes it need approval
    sa.Column("author", sa.String(64), nullable=False),
    sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending|approved|rejected|superseded
    sa.Column("decided_by", sa.String(64)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("decision_note", sa.Text),
)
sa.Index("ix_console_changes_status", console_changes.c.status)
sa.Index("ix_console_changes_doc", console_changes.c.doc_kind, console_changes.c.name)
