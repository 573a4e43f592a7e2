"""qa: a QA result records the learned model's version beside the rules version

Revision ID: qa_0002
Revises: qa_0001
Create Date: 2026-12-01

The second stage of QA (``qa/model.py``, ``qa/second_stage.py``) flags lines the rules do not
(findings of kind ``model``, their ``rule`` the model version, ``how`` the score); the result
says which model version checked it (null: no model, as before this revision).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "qa_0002"
down_revision = "qa_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("qa_results", sa.Column("model_version", sa.String(64)))


def downgrade() -> None:
    op.drop_column("qa_results", "model_version")
