"""QA results in SQL and as chained evidence (adapter).

:class:`QaResultStore` writes one :class:`qa.calls.CallQa` per call and source: the result
row and its findings in one transaction (replacing an earlier run of the same source), then a
``qa_result`` entry in the evidence chain (score, pass, rules version, each finding's rule,
speaker and offset, and the SM3 of the findings as stored). The evidence sink is required:
there is no logging fallback. In a process with an outage spool (the call process) a result the
database cannot take is spooled with its findings sealed (:mod:`qa.spooled_results`) and
replayed later under the same result id; its evidence goes to the spooled evidence sink.
Queries for reports and the console: :meth:`get`, :meth:`results`.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.crypto import sm3
from ivr.errors import StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from qa.calls import CallQa
from qa.tables import qa_findings, qa_results
from records.timeutil import from_db, to_db, utcnow

if TYPE_CHECKING:
    from qa.spooled_results import QaResultSpool


@dataclass(frozen=True, slots=True)
class StoredResult:
    """A QA result as stored (row and findings), for reports, the CLI and the console API."""

    result_id: str
    call_id: str
    source: str
    recording_id: str | None
    purpose: str
    campaign: str | None
    flow: str | None
    agent_id: str | None
    call_started_at: datetime
    checked_at: datetime
    score: int
    passed: bool
    rules_version: str
    findings: tuple[dict[str, Any], ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "result_id": self.result_id,
            "call_id": self.call_id,
            "source": self.source,
            "recording_id": self.recording_id,
            "purpose": self.purpose,
            "campaign": self.campaign,
            "flow": self.flow,
            "agent_id": self.agent_id,
            "call_started_at": self.call_started_at.isoformat(),
            "checked_at": self.checked_at.isoformat(),
            "score": self.score,
            "passed": self.passed,
            "rules_version": self.rules_version,
            "findings": list(self.findings),
        }


@dataclass(frozen=True, slots=True)
class ResultRows:
    """What one saved result writes: its ``qa_results`` row, its ``qa_findings`` rows (without
    ``result_id``) and the SM3 of those findings as stored (the evidence names it)."""

    result_id: str
    result: dict[str, Any]
    findings: list[dict[str, Any]]

    @property
    def findings_sm3(self) -> str:
        canonical = json.dumps(
            self.findings, ensure_ascii=False, sort_keys=True, separators=(",", ":")
        )
        return sm3(canonical.encode()).hex()


def result_rows(
    result: CallQa,
    source: str,
    started: datetime,
    recording_id: str | None,
    checked_at: datetime,
) -> ResultRows:
    """The rows of ``result`` under a new result id."""
    ctx = result.context
    result_id = uuid.uuid4().hex
    findings = [
        {
            "kind": f.kind.value,
            "rule": f.rule,
            "category": f.category,
            "severity": f.severity.value,
            "speaker": f.speaker.value if f.speaker else None,
            "offset_ms": f.offset_ms,
            "phrase": f.phrase,
            "wording": f.wording,
            "how": f.how,
            "rules_version": f.rules_version or result.rules_version,
        }
        for f in result.findings
    ]
    row = {
        "result_id": result_id,
        "call_id": result.call_id,
        "source": source,
        "recording_id": recording_id,
        "purpose": ctx.purpose,
        "campaign": ctx.campaign,
        "flow": ctx.flow,
        "agent_id": ctx.agent_id,
        "call_started_at": to_db(started),
        "checked_at": to_db(checked_at),
        "score": result.score,
        "passed": result.passed,
        "rules_version": result.rules_version,
        "findings": len(findings),
        "model_version": result.model_version,
    }
    return ResultRows(result_id, row, findings)


def write_result_in(conn: sa.Connection, rows: ResultRows) -> None:
    """Replace the call's result of this source by ``rows`` (in the caller's transaction)."""
    r = rows.result
    conn.execute(
        qa_results.delete().where(
            (qa_results.c.call_id == r["call_id"]) & (qa_results.c.source == r["source"])
        )
    )
    conn.execute(qa_results.insert().values(**r))
    if rows.findings:
        conn.execute(
            qa_findings.insert(), [{"result_id": rows.result_id, **f} for f in rows.findings]
        )


class QaResultStore:
    """QA results: SQL rows plus one evidence entry per saved result."""

    def __init__(
        self,
        engine: Engine,
        evidence: EvidenceSink,
        *,
        clock: Callable[[], datetime] = utcnow,
        spool: QaResultSpool | None = None,
    ) -> None:
        """``spool``: the process's outage spool for results (the call process); without one
        a save in a database outage fails as the database does."""
        self._engine = engine
        self._evidence = evidence
        self._clock = clock
        self._spool = spool

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def evidence(self) -> EvidenceSink:
        return self._evidence

    async def save(
        self,
        result: CallQa,
        *,
        source: str,
        call_started_at: datetime,
        recording_id: str | None = None,
    ) -> str:
        """Store ``result`` (replacing this source's earlier one), then chain it as evidence.
        With a spool, a result the database cannot take is spooled (sealed) instead."""
        rows = result_rows(result, source, call_started_at, recording_id, self._clock())
        try:
            await asyncio.to_thread(self._write, rows)
        except StoreUnavailableError:
            if self._spool is None:
                raise
            await self._spool.put(rows)
        await self._evidence.append(
            EvidenceKind.QA_RESULT,
            call_id=result.call_id,
            payload={
                "result_id": rows.result_id,
                "source": source,
                "recording_id": recording_id,
                "score": result.score,
                "passed": result.passed,
                "rules_version": result.rules_version,
                **({"model_version": result.model_version} if result.model_version else {}),
                "findings": [
                    {
                        "kind": f.kind.value,
                        "rule": f.rule,
                        "category": f.category,
                        "speaker": f.speaker.value if f.speaker else None,
                        "offset_ms": f.offset_ms,
                        **({"rules_version": f.rules_version} if f.rules_version else {}),
                    }
                    for f in result.findings
                ],
                "findings_sm3": rows.findings_sm3,
            },
        )
        return rows.result_id

    def _write(self, rows: ResultRows) -> None:
        try:
            with self._engine.begin() as conn:
                write_result_in(conn, rows)
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("QA result store unavailable") from exc

    # -- reading -----------------------------------------------------------------------------

    def get(self, call_id: str) -> list[StoredResult]:
        """Every stored result of a call (one per source)."""
        return self.results(call_id=call_id)

    def results(
        self,
        *,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
        call_id: str | None = None,
        passed: bool | None = None,
        limit: int = 100_000,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[StoredResult]:
        """Results of calls started in ``[started_from, started_to)`` (oldest first, or newest
        first for the console), each with its findings."""
        r = qa_results.c
        stmt = sa.select(qa_results).where(*self._where(started_from, started_to, call_id, passed))
        if newest_first:
            stmt = stmt.order_by(r.call_started_at.desc(), r.call_id, r.source)
        else:
            stmt = stmt.order_by(r.call_started_at, r.call_id, r.source)
        stmt = stmt.limit(limit).offset(offset)
        try:
            with self._engine.connect() as conn:
                rows = [dict(x) for x in conn.execute(stmt).mappings()]
                found: dict[str, list[dict[str, Any]]] = {x["result_id"]: [] for x in rows}
                ids = list(found)
                for start in range(0, len(ids), 500):
                    chunk = ids[start : start + 500]
                    for f in conn.execute(
                        sa.select(qa_findings)
                        .where(qa_findings.c.result_id.in_(chunk))
                        .order_by(qa_findings.c.id)
                    ).mappings():
                        item = {k: f[k] for k in f if k not in ("id", "result_id")}
                        found[f["result_id"]].append(item)
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("QA result store unavailable") from exc
        return [
            StoredResult(
                x["result_id"],
                x["call_id"],
                x["source"],
                x["recording_id"],
                x["purpose"],
                x["campaign"],
                x["flow"],
                x["agent_id"],
                from_db(x["call_started_at"]),
                from_db(x["checked_at"]),
                x["score"],
                bool(x["passed"]),
                x["rules_version"],
                tuple(found[x["result_id"]]),
            )
            for x in rows
        ]

    def count(
        self,
        *,
        started_from: datetime | None = None,
        started_to: datetime | None = None,
        call_id: str | None = None,
        passed: bool | None = None,
    ) -> int:
        """How many results :meth:`results` would list without a limit."""
        stmt = (
            sa.select(sa.func.count())
            .select_from(qa_results)
            .where(*self._where(started_from, started_to, call_id, passed))
        )
        try:
            with self._engine.connect() as conn:
                return int(conn.execute(stmt).scalar_one())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("QA result store unavailable") from exc

    @staticmethod
    def _where(
        started_from: datetime | None,
        started_to: datetime | None,
        call_id: str | None,
        passed: bool | None,
    ) -> list[sa.ColumnElement[bool]]:
        r = qa_results.c
        where: list[sa.ColumnElement[bool]] = []
        if started_from is not None:
            where.append(r.call_started_at >= to_db(started_from))
        if started_to is not None:
            where.append(r.call_started_at < to_db(started_to))
        if call_id is not None:
            where.append(r.call_id == call_id)
        if passed is not None:
            where.append(r.passed.is_(passed))
        return where
