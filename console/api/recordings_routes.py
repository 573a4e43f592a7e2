"""``/api/v1/recordings`` and ``/api/v1/evidence``: search the vault (numbers masked; clear only
for roles that may unmask, with a reason, audited), play or export a recording (every attempt
audited by the vault before decryption; decrypted in memory and streamed, never a clear file
on disk), maintenance, and the evidence chain (entries, verify, checkpoint)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse
from pydantic import AwareDatetime, BaseModel, Field

from console.api.deps import context, require
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.identity import PermissionDeniedError, Principal
from console.permissions import Permission
from ivr.phone import customer_number
from records.recording import RecordingQuery
from records.tables import evidence_log
from records.vault import Actor

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
CHUNK = 64 * 1024


class RecordingSearch(BaseModel):
    customer: str | None = Field(default=None, max_length=32, description="any number format")
    started_from: AwareDatetime | None = None
    started_to: AwareDatetime | None = None
    business_type: str | None = Field(default=None, max_length=64)
    campaign: str | None = Field(default=None, max_length=64)
    flow: str | None = Field(default=None, max_length=64)
    direction: str | None = Field(default=None, max_length=16)
    agent_id: str | None = Field(default=None, max_length=64)
    call_id: str | None = Field(default=None, max_length=128)
    disposition: str | None = Field(default=None, max_length=32, description="how the call ended")
    flags: list[str] = Field(default_factory=list, max_length=10)
    reveal: bool = Field(default=False, description="clear numbers (numbers.unmask; audited)")
    reason: str = Field(default="", max_length=500)
    limit: int = Field(default=50, ge=1, le=500)
    offset: int = Field(default=0, ge=0, le=10_000_000)


class RecordingOut(BaseModel):
    recording_id: str
    call_id: str
    customer: str | None = Field(description="masked (138****5678) unless revealed")
    campaign: str | None
    business_type: str
    direction: str
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    agent_id: str | None
    flow_version: str | None
    consent_state: str | None
    disposition: str | None
    qa_flags: list[str]
    retain_until: datetime
    size_bytes: int
    media_type: str


class RecordingsPage(BaseModel):
    items: list[RecordingOut]
    limit: int
    offset: int
    has_more: bool


class ExportRequest(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class EvidenceOut(BaseModel):
    seq: int
    ts: str
    call_id: str | None
    kind: str
    payload: dict[str, Any]
    hash: str


class VerifyOut(BaseModel):
    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    first_bad_seq: int | None = None
    reason: str | None = None


class CountOut(BaseModel):
    count: int


def _actor(p: Principal) -> Actor:
    return Actor(p.username, p.role.value)


def _out(info: Any) -> RecordingOut:
    data = info.as_dict()
    return RecordingOut.model_validate({k: data[k] for k in RecordingOut.model_fields})


@router.post("/recordings/search", tags=["recordings"])
def search_recordings(
    body: RecordingSearch,
    request: Request,
    principal: Principal = require(Permission.RECORDINGS_SEARCH),
) -> RecordingsPage:
    """Find recordings (POST keeps customer numbers out of URLs and access logs)."""
    ctx = context(request)
    if body.reveal and not principal.may(Permission.NUMBERS_UNMASK):
        ctx.audit.denied(principal, Permission.NUMBERS_UNMASK, "recordings")
        raise PermissionDeniedError(principal, Permission.NUMBERS_UNMASK)
    number = None
    if body.customer:
        number = customer_number(body.customer)
        if number is None:
            raise ApiProblem(
                422, "invalid_input", "customer is not a phone number", code="console.not_a_number"
            )
    query = RecordingQuery(
        customer_number=number,
        started_from=body.started_from,
        started_to=body.started_to,
        business_type=body.business_type,
        campaign=body.campaign,
        flags=tuple(body.flags),
        direction=body.direction,
        agent_id=body.agent_id,
        call_id=body.call_id,
        flow=body.flow,
        disposition=body.disposition,
        limit=body.limit + 1,
        offset=body.offset,
    )
    found = ctx.vault.search(_actor(principal), query, reveal=body.reveal, reason=body.reason)
    return RecordingsPage(
        items=[_out(i) for i in found[: body.limit]],
        limit=body.limit,
        offset=body.offset,
        has_more=len(found) > body.limit,
    )


@router.get("/recordings/{recording_id}", tags=["recordings"])
def get_recording(
    recording_id: Annotated[str, PathParam(max_length=64)],
    request: Request,
    principal: Principal = require(Permission.RECORDINGS_SEARCH),
) -> RecordingOut:
    return _out(context(request).vault.get(_actor(principal), recording_id))


def _stream(data: bytes) -> Iterator[bytes]:
    for start in range(0, len(data), CHUNK):
        yield data[start : start + CHUNK]


@router.get(
    "/recordings/{recording_id}/audio",
    tags=["recordings"],
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "the decrypted recording"}},
)
def play_recording(
    recording_id: Annotated[str, PathParam(max_length=64)],
    request: Request,
    reason: str = Query(..., min_length=1, max_length=500, description="why (audited)"),
    principal: Principal = require(Permission.RECORDINGS_PLAY),
) -> StreamingResponse:
    """Audited playback: the vault records who, when and why before decrypting."""
    result = context(request).vault.fetch(_actor(principal), recording_id, reason)
    assert result.data is not None
    return StreamingResponse(
        _stream(result.data),
        media_type=result.info.media_type,
        headers={"Cache-Control": "no-store", "Content-Length": str(len(result.data))},
    )


@router.post(
    "/recordings/{recording_id}/export",
    tags=["recordings"],
    response_class=StreamingResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "the decrypted recording"}},
)
def export_recording(
    recording_id: Annotated[str, PathParam(max_length=64)],
    body: ExportRequest,
    request: Request,
    principal: Principal = require(Permission.RECORDINGS_EXPORT),
) -> StreamingResponse:
    """Download a recording (audited like playback)."""
    result = context(request).vault.fetch(_actor(principal), recording_id, body.reason)
    assert result.data is not None
    return StreamingResponse(
        _stream(result.data),
        media_type=result.info.media_type,
        headers={
            "Cache-Control": "no-store",
            "Content-Disposition": f'attachment; filename="{recording_id}.wav"',
        },
    )


@router.get("/recordings/{recording_id}/access-log", tags=["recordings"])
def recording_access_log(
    recording_id: Annotated[str, PathParam(max_length=64)],
    request: Request,
    _: Principal = require(Permission.EVIDENCE_READ),
) -> list[dict[str, Any]]:
    return context(request).vault.access_log(recording_id)


@router.post("/recordings/purge", tags=["recordings"])
def purge_recordings(
    request: Request, _: Principal = require(Permission.RECORDINGS_MAINTAIN)
) -> dict[str, Any]:
    """Remove recordings past their retention (only those)."""
    return dict(context(request).vault.purge().as_dict())


@router.post("/recordings/rewrap", tags=["recordings"])
def rewrap_recordings(
    request: Request, _: Principal = require(Permission.RECORDINGS_MAINTAIN)
) -> CountOut:
    return CountOut(count=context(request).vault.rewrap())


@router.get("/evidence", tags=["evidence"])
def list_evidence(
    request: Request,
    kind: str | None = Query(None, max_length=64),
    call_id: str | None = Query(None, max_length=128),
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.EVIDENCE_READ),
) -> Page[EvidenceOut]:
    """Entries of the chain, newest first (payloads hold no clear customer data)."""
    items, total = evidence_page(request, kind, call_id, page)
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


def evidence_page(
    request: Request, kind: str | None, call_id: str | None, page: PageParams
) -> tuple[list[EvidenceOut], int]:
    where = []
    if kind:
        where.append(evidence_log.c.kind == kind)
    if call_id:
        where.append(evidence_log.c.call_id == call_id)
    with context(request).engine.connect() as conn:
        rows = conn.execute(
            sa.select(evidence_log)
            .where(*where)
            .order_by(evidence_log.c.seq.desc())
            .limit(page.limit)
            .offset(page.offset)
        ).mappings()
        items = [
            EvidenceOut(
                seq=int(r["seq"]),
                ts=r["ts"],
                call_id=r["call_id"],
                kind=r["kind"],
                payload=json.loads(r["payload"]),
                hash=r["hash"],
            )
            for r in rows
        ]
        total = conn.execute(
            sa.select(sa.func.count()).select_from(evidence_log).where(*where)
        ).scalar_one()
    return items, int(total)


class CheckpointOut(BaseModel):
    seq: int
    hash: str
    ts: str


@router.post("/evidence/checkpoint", tags=["evidence"])
def evidence_checkpoint(
    request: Request, _: Principal = require(Permission.EVIDENCE_VERIFY)
) -> CheckpointOut:
    """Verify the chain and export its head; keep it outside the database (detects truncation)."""
    return CheckpointOut.model_validate(context(request).evidence.checkpoint().as_dict())


@router.get("/evidence/verify", tags=["evidence"])
def verify_evidence(
    request: Request, _: Principal = require(Permission.EVIDENCE_VERIFY)
) -> VerifyOut:
    """Walk the whole chain; names the first bad entry."""
    return VerifyOut.model_validate(context(request).evidence.verify().as_dict())
