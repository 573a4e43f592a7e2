"""Example requests of the floor routes for the role matrix: each seeds what its route needs
(a desk for the caller, a hand-off, a work ticket, a claimed callback, a dead letter)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from console_support import CLEAR_NUMBER

from agents.desk import DeskNotFoundError
from agents.tables import webhook_deliveries
from campaigns.callbacks import CallbackTickets
from console.context import ConsoleContext
from console.permissions import Role
from flows.ports import CallReport, Handoff
from ivr.phone import customer_number

AGENT = "general-1101@default"  # in the shipped callcenter.conf, so the switch knows it
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
NUMBER = customer_number(CLEAR_NUMBER)

Request = dict[str, Any]


def desk_for(role: Role, c: ConsoleContext) -> None:
    try:
        c.floor.desk.desk_of(role.value)
    except DeskNotFoundError:
        c.floor.desk.bind(AGENT, role.value, "general")


def handoff(c: ConsoleContext) -> str:
    call_id = f"pop-{uuid.uuid4().hex[:8]}"
    c.floor.pops.store(
        Handoff(
            call_id,
            "senior",
            9,
            "complaint",
            "complaint",
            NUMBER,
            None,
            (("caller", "我要投诉"),),
            "inbound_service",
            ("menu", "senior"),
            AT,
        )
    )
    return call_id


def work_ticket(c: ConsoleContext) -> str:
    report = CallReport(
        f"call-{uuid.uuid4().hex[:8]}",
        "inbound_service",
        "v1",
        "service",
        "inbound",
        NUMBER,
        "transferred_senior",
        "complaint",
        (("senior", 9, "complaint"),),
        ("menu", "senior"),
        (("caller", "我要投诉"),),
        "我要投诉",
        None,
        AT,
        AT,
    )
    [ticket] = c.floor.work_tickets.record(report)
    return ticket.id


def callback_ticket(c: ConsoleContext, role: Role, *, claim: bool) -> str:
    store = CallbackTickets(c.engine, c.vault.numbers, c.evidence)
    opened = asyncio.run(
        store.open(
            call_id=f"cb-{uuid.uuid4().hex[:8]}",
            number=NUMBER,
            queue="general",
            reason="no_agent_free",
            now=AT,
        )
    )
    ticket_id: str = opened.ticket.id  # type: ignore[union-attr]
    if claim:
        c.floor.callbacks.claim(ticket_id, role.value)
    return ticket_id


def dead_letter(c: ConsoleContext) -> str:
    delivery_id = str(uuid.uuid4())
    with c.engine.begin() as conn:
        conn.execute(
            sa.insert(webhook_deliveries).values(
                id=delivery_id,
                target="crm",
                event="escalation",
                call_id=None,
                body="{}",
                status="dead",
                attempts=8,
                next_at=AT,
                last_error="HTTP 500",
                created_at=AT,
            )
        )
    return delivery_id


def _desk_then(request: Request) -> Callable[[Role, ConsoleContext], Request]:
    def example(role: Role, c: ConsoleContext) -> Request:
        desk_for(role, c)
        return request

    return example


FLOOR_EXAMPLES: dict[tuple[str, str], Callable[[Role, ConsoleContext], Request]] = {
    ("GET", "/api/v1/agents"): lambda r, c: {},
    ("POST", "/api/v1/agents"): lambda r, c: {
        "json": {
            "agent": f"desk-{r.value}@default",
            "username": f"desk-{r.value}",
            "team": "general",
            "contact": "[call_timeout=20]user/2000",
        }
    },
    ("GET", "/api/v1/agents/me"): _desk_then({}),
    ("POST", "/api/v1/agents/me/{action}"): _desk_then({"path": {"action": "login"}}),
    ("GET", "/api/v1/agents/me/pops"): _desk_then({}),
    ("GET", "/api/v1/agents/me/pops/stream"): _desk_then({}),
    ("POST", "/api/v1/screen-pops/{call_id}/unmask"): lambda r, c: {
        "path": {"call_id": handoff(c)},
        "json": {"reason": "caller asks to be called on this number"},
    },
    ("GET", "/api/v1/work-tickets"): lambda r, c: {},
    ("GET", "/api/v1/work-tickets/{ticket_id}"): lambda r, c: {
        "path": {"ticket_id": work_ticket(c)}
    },
    ("POST", "/api/v1/work-tickets/{ticket_id}/status"): lambda r, c: {
        "path": {"ticket_id": work_ticket(c)},
        "json": {"status": "in_progress", "note": "calling back"},
    },
    ("GET", "/api/v1/callbacks"): lambda r, c: {},
    ("POST", "/api/v1/callbacks/{ticket_id}/claim"): lambda r, c: {
        "path": {"ticket_id": callback_ticket(c, r, claim=False)}
    },
    ("POST", "/api/v1/callbacks/{ticket_id}/call"): lambda r, c: {
        "path": {"ticket_id": callback_ticket(c, r, claim=True)}
    },
    ("GET", "/api/v1/webhooks"): lambda r, c: {},
    ("POST", "/api/v1/webhooks/{delivery_id}/retry"): lambda r, c: {
        "path": {"delivery_id": dead_letter(c)}
    },
    ("GET", "/api/v1/floor"): lambda r, c: {},
}
