"""``/api/v1/work-tickets``, ``/api/v1/callbacks``, ``/api/v1/webhooks``, ``/api/v1/floor``:
the tickets the system wrote (worked with status and history), the callback queue (claim, the
gated call back), the webhook outbox with its dead letters, and the floor's figures (the same
metrics Prometheus scrapes). Numbers are masked everywhere here."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from agents.callbacks import CallbackItem, ClaimError
from agents.figures import floor_figures
from agents.work_tickets import WorkTicket, WorkTicketNotFoundError
from console.api.deps import context, require
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.identity import Principal
from console.permissions import Permission
from records.access import Actor

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


class TicketOut(BaseModel):
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


class TicketDetail(TicketOut):
    history: list[dict[str, Any]]


class TicketChange(BaseModel):
    status: Literal["open", "in_progress", "resolved"]
    note: str = Field(default="", max_length=2000)


class CallbackOut(BaseModel):
    ticket_id: str
    call_id: str
    masked_number: str
    queue: str
    reason: str
    created_at: datetime
    due_at: datetime
    overdue: bool
    claimed_by: str | None
    attempts: int
    result: str | None
    done: bool


class CallbackResult(BaseModel):
    outcome: str
    detail: str
    callback: CallbackOut


class DeliveryOut(BaseModel):
    id: str
    target: str
    event: str
    call_id: str | None
    status: str
    attempts: int
    next_at: datetime
    last_error: str | None
    created_at: datetime


def _ticket(t: WorkTicket) -> TicketOut:
    return TicketOut(**{name: getattr(t, name) for name in TicketOut.model_fields})


def _callback(item: CallbackItem, now: datetime) -> CallbackOut:
    fields = {n: getattr(item, n) for n in CallbackOut.model_fields if n != "overdue"}
    return CallbackOut(overdue=item.overdue(now), **fields)


@router.get("/work-tickets", tags=["tickets"])
def list_tickets(
    request: Request,
    team: str | None = None,
    status: str | None = None,
    _: Principal = require(Permission.TICKETS_READ),
) -> list[TicketOut]:
    tickets = context(request).floor.work_tickets
    return [_ticket(t) for t in tickets.search(team=team, status=status)]


@router.get("/work-tickets/{ticket_id}", tags=["tickets"])
def get_ticket(
    ticket_id: str, request: Request, _: Principal = require(Permission.TICKETS_READ)
) -> TicketDetail:
    tickets = context(request).floor.work_tickets
    try:
        found = tickets.get(ticket_id)
    except WorkTicketNotFoundError as exc:
        raise ApiProblem(404, "not_found", str(exc), code=exc.code, params=exc.params) from exc
    return TicketDetail(**_ticket(found).model_dump(), history=tickets.history(ticket_id))


@router.post("/work-tickets/{ticket_id}/status", tags=["tickets"])
def change_ticket(
    ticket_id: str,
    body: TicketChange,
    request: Request,
    principal: Principal = require(Permission.TICKETS_WORK),
) -> TicketOut:
    tickets = context(request).floor.work_tickets
    try:
        changed = tickets.update(
            ticket_id, status=body.status, actor=principal.username, note=body.note
        )
    except WorkTicketNotFoundError as exc:
        raise ApiProblem(404, "not_found", str(exc), code=exc.code, params=exc.params) from exc
    return _ticket(changed)


@router.get("/callbacks", tags=["callbacks"])
def list_callbacks(
    request: Request, _: Principal = require(Permission.CALLBACKS_WORK)
) -> list[CallbackOut]:
    ctx = context(request)
    now = ctx.auth.clock()
    return [_callback(i, now) for i in ctx.floor.callbacks.items()]


@router.post("/callbacks/{ticket_id}/claim", tags=["callbacks"])
def claim_callback(
    ticket_id: str, request: Request, principal: Principal = require(Permission.CALLBACKS_WORK)
) -> CallbackOut:
    ctx = context(request)
    try:
        item = ctx.floor.callbacks.claim(ticket_id, principal.username)
    except ClaimError as exc:
        raise ApiProblem(409, "conflict", str(exc), code=exc.code, params=exc.params) from exc
    return _callback(item, ctx.auth.clock())


@router.post("/callbacks/{ticket_id}/call", tags=["callbacks"])
async def call_back(
    ticket_id: str, request: Request, principal: Principal = require(Permission.CALLBACKS_WORK)
) -> CallbackResult:
    """Place the claimed ticket's ``service`` call back through the compliance gate."""
    ctx = context(request)
    floor = ctx.floor
    if floor.dialler is None:
        raise ApiProblem(
            503,
            "switch_unavailable",
            "no FreeSWITCH inbound ESL configured",
            code="agents.no_switch",
        )
    actor = Actor(principal.username, principal.role.value)  # the desk checks the same table
    try:
        attempt = await floor.callbacks.call_back(ticket_id, actor=actor, dialler=floor.dialler)
    except ClaimError as exc:
        raise ApiProblem(409, "conflict", str(exc), code=exc.code, params=exc.params) from exc
    item = await asyncio.to_thread(floor.callbacks.item, ticket_id)
    return CallbackResult(
        outcome=attempt.outcome, detail=attempt.detail, callback=_callback(item, ctx.auth.clock())
    )


@router.get("/webhooks", tags=["webhooks"])
def list_webhooks(
    request: Request,
    status: Literal["pending", "sent", "dead"] | None = None,
    _: Principal = require(Permission.WEBHOOKS_READ),
) -> list[DeliveryOut]:
    outbox = context(request).floor.outbox
    if outbox is None:
        return []
    return [
        DeliveryOut(**{n: getattr(d, n) for n in DeliveryOut.model_fields})
        for d in outbox.deliveries(status)
    ]


@router.post("/webhooks/{delivery_id}/retry", tags=["webhooks"])
def retry_webhook(
    delivery_id: str, request: Request, _: Principal = require(Permission.WEBHOOKS_RETRY)
) -> dict[str, bool]:
    outbox = context(request).floor.outbox
    if outbox is None or not outbox.retry(delivery_id):
        raise ApiProblem(
            404,
            "not_found",
            f"no dead letter {delivery_id}",
            code="webhooks.no_dead_letter",
            params={"delivery": delivery_id},
        )
    return {"retried": True}


@router.get("/floor", tags=["dashboard"])
def floor_summary(
    request: Request, _: Principal = require(Permission.DASHBOARD_VIEW)
) -> dict[str, Any]:
    """The floor's figures: desks by status, open tickets, callbacks due and overdue, dead
    letters, and the Prometheus metrics (calls active, gate decisions by reason, latencies,
    queue waits, abandoned calls, QA hits, evidence appends, errors)."""
    ctx = context(request)
    return floor_figures(ctx.floor, ctx.auth.clock(), ctx.settings.metrics_port)
