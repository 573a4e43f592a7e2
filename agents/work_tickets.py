"""Work tickets the system writes: every complaint, high-risk flag and unfinished request.

:func:`tickets_for` (pure) reads a finished call (:class:`flows.ports.CallReport`) and returns
the tickets it calls for: ``complaint`` and ``high_risk`` (routed to the senior team) from the
intent NLU read or an escalation's reason, ``unfinished`` (general team) when the caller left
before the flow came to an end (hung up, speech failed) without being handed to a person. Each
carries the category (the intent, else the reason), the caller's own words as an excerpt, the
flow path, the outcome and the recording reference. :class:`WorkTickets` stores them (one per
call and kind: a re-delivered report does not duplicate) with a history of every status change.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from agents.screenpop import flags_for
from agents.tables import work_ticket_history, work_tickets
from flows.ports import CallReport
from ivr.errors import IvrError, StoreUnavailableError
from records.sealed_number import NumberSealer

TEAM_OF = {"complaint": "senior", "high_risk": "senior", "unfinished": "general"}
UNFINISHED_ENDINGS = frozenset({"caller_hangup", "tts_unavailable", "asr_unavailable"})
STATUSES = ("open", "in_progress", "resolved")
EXCERPT_CHARS = 500


class WorkTicketNotFoundError(IvrError):
    """No work ticket with that id."""


@dataclass(frozen=True, slots=True)
class WorkTicketDraft:
    kind: str
    category: str
    team: str
    excerpt: str
    flow_path: str
    outcome: str


@dataclass(frozen=True, slots=True)
class WorkTicket:
    id: str
    call_id: str
    kind: str
    category: str
    team: str
    status: str
    assignee: str | None
    masked_number: str | None
    excerpt: str
    flow_path: str
    outcome: str
    recording_ref: str | None
    created_at: datetime
    updated_at: datetime


def tickets_for(report: CallReport) -> list[WorkTicketDraft]:
    """The work tickets a finished call calls for (pure)."""
    flags: set[str] = set()
    for queue, _priority, reason in report.escalations:
        flags.update(flags_for(queue, reason, report.intent))
    if report.intent == "complaint":
        flags.add("complaint")
    if report.intent == "high_risk":
        flags.add("high_risk")
    handed = report.ended_reason.startswith("transferred_")
    if not flags and not handed and report.ended_reason in UNFINISHED_ENDINGS:
        flags.add("unfinished")
    said = " / ".join(text for who, text in report.conversation if who == "caller")
    excerpt = (said or report.transcript_tail)[-EXCERPT_CHARS:]
    reasons = [reason for _, _, reason in report.escalations]
    category = report.intent or (reasons[-1] if reasons else report.ended_reason)
    path = " > ".join(report.path)
    return [
        WorkTicketDraft(kind, category, TEAM_OF[kind], excerpt, path, report.ended_reason)
        for kind in sorted(flags)
    ]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class WorkTickets:
    """SQL store of work tickets and their history."""

    def __init__(
        self,
        engine: Engine,
        numbers: NumberSealer,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._engine = engine
        self._numbers = numbers
        self._clock = clock

    async def write(self, report: CallReport) -> list[WorkTicket]:
        """Store the tickets ``report`` calls for; the ones created now (not seen before)."""
        return await asyncio.to_thread(self.record, report)

    def record(self, report: CallReport) -> list[WorkTicket]:
        """:meth:`write`, synchronously."""
        created: list[WorkTicket] = []
        now = self._clock()
        bi = masked = None
        if report.customer is not None:
            bi, masked = self._numbers.blind_index(report.customer), report.customer.masked
        for draft in tickets_for(report):
            ticket = WorkTicket(
                str(uuid.uuid4()),
                report.call_id,
                draft.kind,
                draft.category,
                draft.team,
                "open",
                None,
                masked,
                draft.excerpt,
                draft.flow_path,
                draft.outcome,
                report.recording_ref,
                now,
                now,
            )
            try:
                with self._engine.begin() as conn:
                    conn.execute(
                        work_tickets.insert().values(
                            id=ticket.id,
                            call_id=ticket.call_id,
                            kind=ticket.kind,
                            category=ticket.category,
                            team=ticket.team,
                            status=ticket.status,
                            assignee=None,
                            customer_bi=bi,
                            masked_number=masked,
                            excerpt=ticket.excerpt,
                            flow_path=ticket.flow_path,
                            outcome=ticket.outcome,
                            recording_ref=ticket.recording_ref,
                            created_at=now,
                            updated_at=now,
                        )
                    )
                    conn.execute(
                        work_ticket_history.insert().values(
                            ticket_id=ticket.id, status="open", actor="system", note="", at=now
                        )
                    )
            except IntegrityError:
                continue  # this call's ticket of this kind exists already
            except SQLAlchemyError as exc:
                raise StoreUnavailableError("work ticket store failed") from exc
            created.append(ticket)
        return created

    def search(self, *, team: str | None = None, status: str | None = None) -> list[WorkTicket]:
        stmt = work_tickets.select().order_by(work_tickets.c.created_at.desc()).limit(500)
        if team:
            stmt = stmt.where(work_tickets.c.team == team)
        if status:
            stmt = stmt.where(work_tickets.c.status == status)
        return [_ticket(r) for r in self._rows(stmt)]

    def get(self, ticket_id: str) -> WorkTicket:
        rows = self._rows(work_tickets.select().where(work_tickets.c.id == ticket_id))
        if not rows:
            raise WorkTicketNotFoundError(
                f"no work ticket {ticket_id}",
                code="agents.no_work_ticket",
                params={"ticket": ticket_id},
            )
        return _ticket(rows[0])

    def history(self, ticket_id: str) -> list[dict[str, Any]]:
        stmt = (
            work_ticket_history.select()
            .where(work_ticket_history.c.ticket_id == ticket_id)
            .order_by(work_ticket_history.c.id)
        )
        return [dict(r._mapping) for r in self._rows(stmt)]

    def update(self, ticket_id: str, *, status: str, actor: str, note: str = "") -> WorkTicket:
        """Move a ticket to ``status`` (``in_progress`` assigns it to ``actor``), with history."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}")
        self.get(ticket_id)
        now = self._clock()
        values: dict[str, Any] = {"status": status, "updated_at": now}
        if status == "in_progress":
            values["assignee"] = actor
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    work_tickets.update().where(work_tickets.c.id == ticket_id).values(**values)
                )
                conn.execute(
                    work_ticket_history.insert().values(
                        ticket_id=ticket_id, status=status, actor=actor, note=note[:2000], at=now
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("work ticket store failed") from exc
        return self.get(ticket_id)

    def _rows(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("work ticket store failed") from exc


def _ticket(row: sa.Row[Any]) -> WorkTicket:
    return WorkTicket(
        row.id,
        row.call_id,
        row.kind,
        row.category,
        row.team,
        row.status,
        row.assignee,
        row.masked_number,
        row.excerpt,
        row.flow_path,
        row.outcome,
        row.recording_ref,
        _utc(row.created_at),
        _utc(row.updated_at),
    )
