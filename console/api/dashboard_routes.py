"""``/api/v1/dashboard``: calls now and today, gate denials by reason, consents, DNC
additions, escalations and callbacks (``console.dashboard`` counts; this reads the evidence)."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel

from console.api.deps import context, require
from console.api.problems import PROBLEM_RESPONSES
from console.dashboard import KINDS, Event, summarise, window_start
from console.identity import Principal
from console.permissions import Permission
from records.tables import evidence_log
from records.timeutil import iso

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


class HourCount(BaseModel):
    hour: str
    calls: int


class ReasonCount(BaseModel):
    reason: str
    count: int


class ConsentDay(BaseModel):
    day: str
    granted: int
    refused: int
    revoked: int


class DncDay(BaseModel):
    day: str
    added: int
    removed: int


class QueueCount(BaseModel):
    what: str
    count: int


class Dashboard(BaseModel):
    calls_now: int
    calls_today: int
    calls_by_hour: list[HourCount]
    gate_denials: list[ReasonCount]
    consents_by_day: list[ConsentDay]
    dnc_by_day: list[DncDay]
    queues: list[QueueCount]


@router.get("/dashboard", tags=["dashboard"])
def dashboard(request: Request, _: Principal = require(Permission.DASHBOARD_VIEW)) -> Dashboard:
    ctx = context(request)
    now = ctx.auth.clock()
    since = window_start(now, ctx.settings.institution_timezone)
    with ctx.engine.connect() as conn:
        rows = conn.execute(
            sa.select(evidence_log.c.kind, evidence_log.c.ts, evidence_log.c.call_id).where(
                evidence_log.c.kind.in_(KINDS), evidence_log.c.ts >= iso(since)
            )
        ).all()
    events = [Event(r.kind, datetime.fromisoformat(r.ts), r.call_id) for r in rows]
    data = summarise(events, now, ctx.settings.institution_timezone, ctx.gate_denials(since))
    return Dashboard.model_validate(data)
