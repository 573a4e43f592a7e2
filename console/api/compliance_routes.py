"""``/api/v1/dnc``, ``/api/v1/consents``, ``/api/v1/gate``: the compliance capabilities through
the one compliance API (``compliance.service.ComplianceService``). Numbers travel in request
bodies (never in URLs, so never in access logs) and come back masked; the actor of every change
is the authenticated principal; DNC and consent changes are chained evidence (the service
writes it), refusals too (the console's audit)."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import AwareDatetime, BaseModel, Field

from compliance.decision import GateRequest
from console.api.deps import context, require
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.identity import Principal
from console.permissions import Permission
from ivr.phone import CustomerNumber, customer_number
from records.tables import evidence_log

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
NUMBER = Field(min_length=3, max_length=32, description="a phone number, any format")
TEXT = Field(min_length=1, max_length=500)


class NumberIn(BaseModel):
    number: str = NUMBER


class DncAdd(NumberIn):
    reason: str = TEXT
    source: str = Field(default="operator", min_length=1, max_length=32)
    call_id: str | None = Field(default=None, max_length=128)


class DncRemove(NumberIn):
    reason: str = TEXT


class DncOut(BaseModel):
    number: str
    dnc: bool
    source: str | None = None
    reason: str | None = None
    actor: str | None = None
    since: datetime | None = None


class DncRemoved(BaseModel):
    number: str
    removed: bool


class DncListItem(BaseModel):
    number: str
    source: str
    reason: str
    actor: str
    since: str


class ConsentGrant(NumberIn):
    purpose: str = Field(min_length=1, max_length=32)
    scope: str = Field(min_length=1, max_length=128)
    channel: str = Field(min_length=1, max_length=32)
    call_id: str | None = Field(default=None, max_length=128)
    recording_offset_ms: int | None = Field(default=None, ge=0, le=24 * 3600 * 1000)
    transcript_excerpt: str | None = Field(default=None, max_length=500)


class ConsentRevoke(NumberIn):
    purpose: str = Field(min_length=1, max_length=32)
    channel: str = Field(min_length=1, max_length=32)
    reason: str = TEXT


class ConsentOut(BaseModel):
    id: str
    purpose: str
    scope: str
    channel: str
    granted_at: datetime
    expires_at: datetime | None
    call_id: str | None
    recording_offset_ms: int | None
    transcript_excerpt: str | None
    revoked_at: datetime | None


class RevokedOut(BaseModel):
    revoked: int


class GateCheck(NumberIn):
    purpose: str = Field(min_length=1, max_length=32)
    at: AwareDatetime | None = None
    campaign: str | None = Field(default=None, max_length=64)
    profile_tz: str | None = Field(default=None, max_length=64)


class GateOut(BaseModel):
    allowed: bool
    reasons: list[str]
    rules_version: str | None
    purpose: str
    number: str | None
    zone: str | None
    local_date: str | None
    daily_cap: int | None
    count_today: int | None
    retry_after: str | None
    consent_mode: str | None


def _customer(raw: str) -> CustomerNumber:
    number = customer_number(raw)
    if number is None:
        raise ApiProblem(422, "invalid_input", "not a phone number", code="console.not_a_number")
    return number


@router.post("/dnc/check", tags=["dnc"])
async def dnc_check(
    body: NumberIn, request: Request, _: Principal = require(Permission.DNC_CHECK)
) -> DncOut:
    customer = _customer(body.number)
    entry = await context(request).compliance.dnc_entry(customer)
    if entry is None:
        return DncOut(number=customer.masked, dnc=False)
    return DncOut(
        number=customer.masked,
        dnc=True,
        source=entry.source,
        reason=entry.reason,
        actor=entry.actor,
        since=entry.created_at,
    )


@router.post("/dnc", tags=["dnc"], status_code=201)
async def dnc_add(
    body: DncAdd, request: Request, actor: Principal = require(Permission.DNC_ADD)
) -> DncOut:
    """Add to the permanent DNC list (durable before this answers; the addition is evidence)."""
    customer = _customer(body.number)
    entry = await context(request).compliance.add_dnc(
        customer, source=body.source, reason=body.reason, actor=actor.username, call_id=body.call_id
    )
    return DncOut(
        number=customer.masked,
        dnc=True,
        source=entry.source,
        reason=entry.reason,
        actor=entry.actor,
        since=entry.created_at,
    )


@router.post("/dnc/remove", tags=["dnc"])
async def dnc_remove(
    body: DncRemove, request: Request, actor: Principal = require(Permission.DNC_REMOVE)
) -> DncRemoved:
    """Remove a DNC entry (compliance officers, with a written reason; the removal is evidence)."""
    customer = _customer(body.number)
    removed = await context(request).compliance.remove_dnc(
        customer, actor=actor.username, actor_role=actor.role.value, reason=body.reason
    )
    return DncRemoved(number=customer.masked, removed=removed)


@router.get("/dnc", tags=["dnc"])
def dnc_list(
    request: Request,
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.DNC_LIST),
) -> Page[DncListItem]:
    """DNC additions, newest first, masked (from the evidence chain: who, why, when)."""
    where = evidence_log.c.kind == "dnc_added"
    with context(request).engine.connect() as conn:
        rows = conn.execute(
            sa.select(evidence_log.c.ts, evidence_log.c.payload)
            .where(where)
            .order_by(evidence_log.c.seq.desc())
            .limit(page.limit)
            .offset(page.offset)
        ).all()
        total = conn.execute(
            sa.select(sa.func.count()).select_from(evidence_log).where(where)
        ).scalar_one()
    items = []
    for row in rows:
        data: dict[str, Any] = json.loads(row.payload)
        items.append(
            DncListItem(
                number=str(data.get("number", "")),
                source=str(data.get("source", "")),
                reason=str(data.get("reason", "")),
                actor=str(data.get("actor", "")),
                since=row.ts,
            )
        )
    return Page(items=items, total=int(total), limit=page.limit, offset=page.offset)


@router.post("/consents/search", tags=["consents"])
async def consents_of(
    body: NumberIn, request: Request, _: Principal = require(Permission.CONSENT_READ)
) -> list[ConsentOut]:
    """Every consent on file for the customer (revoked and expired included)."""
    records = await context(request).compliance.list_consents(_customer(body.number))
    return [ConsentOut.model_validate(r.as_dict()) for r in records]


@router.post("/consents", tags=["consents"], status_code=201)
async def consent_grant(
    body: ConsentGrant, request: Request, actor: Principal = require(Permission.CONSENT_GRANT)
) -> ConsentOut:
    """Record an explicit consent with its evidence (time, channel, scope, purpose)."""
    record = await context(request).compliance.grant_consent(
        _customer(body.number),
        purpose=body.purpose,
        scope=body.scope,
        channel=body.channel,
        call_id=body.call_id,
        recording_offset_ms=body.recording_offset_ms,
        transcript_excerpt=body.transcript_excerpt,
    )
    return ConsentOut.model_validate(record.as_dict())


@router.post("/consents/revoke", tags=["consents"])
async def consent_revoke(
    body: ConsentRevoke, request: Request, actor: Principal = require(Permission.CONSENT_REVOKE)
) -> RevokedOut:
    count = await context(request).compliance.revoke_consent(
        _customer(body.number),
        body.purpose,
        actor=actor.username,
        channel=body.channel,
        reason=body.reason,
    )
    return RevokedOut(revoked=count)


@router.post("/gate/check", tags=["gate"])
async def gate_check(
    body: GateCheck, request: Request, _: Principal = require(Permission.GATE_CHECK)
) -> GateOut:
    """Decide as the dial-time gate would (a dry run: nothing is counted)."""
    req = GateRequest(
        body.number, body.purpose, f"dry-{uuid.uuid4().hex}", body.campaign, body.profile_tz
    )
    decision = await context(request).compliance.dry_run(req, body.at)
    return GateOut.model_validate(decision.as_dict())
