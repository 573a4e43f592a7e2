"""SQLAlchemy Core tables of the QA package (defined once; the ``qa_*`` migrations create them).

``qa_results``: one row per call and source (``call`` from the orchestrator's turns,
``recording`` from a stored recording, each re-run replacing the previous one), with score,
pass/fail and the rules version. ``qa_findings``: each hit or mandatory-statement finding with
speaker, offset into the recording, phrase and rule. ``qa_batch_jobs`` / ``qa_batch_items``:
resumable batch QA of stored recordings.
"""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData()

qa_results = sa.Table(
    "qa_results",
    metadata,
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
    sa.Column("model_version", sa.String(64)),  # qa_0002: the learned stage's, null: none
)
sa.Index("ux_qa_results_call_source", qa_results.c.call_id, qa_results.c.source, unique=True)
sa.Index("ix_qa_results_call_started_at", qa_results.c.call_started_at)

qa_findings = sa.Table(
    "qa_findings",
    metadata,
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
sa.Index("ix_qa_findings_result_id", qa_findings.c.result_id)

qa_batch_jobs = sa.Table(
    "qa_batch_jobs",
    metadata,
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

qa_batch_items = sa.Table(
    "qa_batch_items",
    metadata,
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
