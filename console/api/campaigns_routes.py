"""``/api/v1/campaigns``: outbound campaigns for the console, through :class:`CampaignDesk`.

List (with progress), detail (attempts by state and disposition, contacts, next due), create,
import a CSV/XLSX list (per-row errors in the answer, nothing half-written), start / pause /
resume / stop, and the results as CSV with masked numbers. Reading needs ``campaigns.read``,
every change ``campaigns.manage``; each change is evidence (``console_campaign_changed``: who,
which campaign, what), the export a ``console_customer_data_read`` (masked numbers only).
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field

from campaigns.model import CampaignError, DailyWindow, PacingMode, RetryPolicy
from campaigns.repository import CampaignNotFoundError
from campaigns.service import CampaignDesk, CampaignStatus
from campaigns.spec import CampaignSpec
from console.api.deps import context, require
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.audit import AuditKind
from console.identity import Principal
from console.permissions import Permission

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
MAX_UPLOAD_BYTES = 32 * 2**20
Action = Literal["start", "pause", "resume", "stop"]
DONE_STATES = ("done", "cancelled")


class CampaignIn(BaseModel):
    name: str = Field(min_length=1, max_length=64)
    flow: str = Field(min_length=1, max_length=64)
    purpose: str = Field(min_length=1, max_length=32)
    caller_ids: list[str] = Field(min_length=1, max_length=50)
    windows: list[str] = Field(default=["09:00-21:00"], min_length=1, max_length=10)
    start_date: date | None = None
    end_date: date | None = None
    max_attempts: int = Field(default=3, ge=1, le=20)
    retry_policy: dict[str, dict[str, int]] | None = None
    max_concurrency: int = Field(default=10, ge=1, le=10000)
    max_cps: float = Field(default=5.0, gt=0, le=1000)
    pacing: Literal["bot", "agent"] = "bot"
    priority: int = Field(default=5, ge=0, le=9)
    abandon_target: float = Field(default=0.03, gt=0, le=0.1)


class Progress(BaseModel):
    contacts: int
    attempts: int
    done: int
    open: int
    percent: float


class CampaignOut(BaseModel):
    id: str
    name: str
    state: str
    flow: str
    purpose: str
    pacing: str
    priority: int
    max_attempts: int
    max_concurrency: int
    max_cps: float
    abandon_target: float
    windows: list[str]
    caller_ids: list[str]
    start_date: str | None
    end_date: str | None
    created_by: str
    created_at: str
    updated_at: str
    progress: Progress


class CampaignDetail(CampaignOut):
    dispositions: dict[str, int]
    states: dict[str, int]
    next_due: str | None
    retry_policy: dict[str, dict[str, int]]


class RowErrorOut(BaseModel):
    row: int
    column: str
    why: str
    code: str = Field(default="list.row_invalid", description="message code of ``why``")
    params: dict[str, str | int | float] = Field(default_factory=dict)


class PurposeOut(BaseModel):
    purpose: str
    window: str | None = Field(description="the rules' daily window; None: any time of day")


class CampaignChoices(BaseModel):
    flows: list[str] = Field(description="the active outbound flows")
    purposes: list[PurposeOut]
    timezone: str = Field(description="the institution's zone (campaign dates and windows)")


class ImportOut(BaseModel):
    import_id: str
    rows: int
    accepted: int
    merged: int
    repeated: bool
    errors: list[RowErrorOut]


def _desk(request: Request) -> CampaignDesk:
    return context(request).campaigns


def _status(desk: CampaignDesk, ref: str) -> CampaignStatus:
    try:
        return desk.status(ref)
    except CampaignNotFoundError as exc:
        raise ApiProblem(
            404, "not_found", str(exc), code="campaign.not_found", params={"campaign": ref}
        ) from None


def _split(counts: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    states = {k[6:]: v for k, v in counts.items() if k.startswith("state:")}
    dispositions = {k[12:]: v for k, v in counts.items() if k.startswith("disposition:")}
    return states, dispositions


def _fields(status: CampaignStatus) -> dict[str, Any]:
    data = status.campaign.as_dict()
    states, _ = _split(status.counts)
    attempts = sum(states.values())
    done = sum(v for k, v in states.items() if k in DONE_STATES)
    return {
        **{k: data[k] for k in CampaignOut.model_fields if k in data},
        "progress": Progress(
            contacts=status.contacts,
            attempts=attempts,
            done=done,
            open=attempts - done,
            percent=round(100.0 * done / attempts, 1) if attempts else 0.0,
        ),
    }


def _detail(status: CampaignStatus) -> CampaignDetail:
    states, dispositions = _split(status.counts)
    return CampaignDetail(
        **_fields(status),
        dispositions=dispositions,
        states=states,
        next_due=status.next_due.isoformat() if status.next_due else None,
        retry_policy=status.campaign.spec.retry.as_dict(),
    )


def _spec(body: CampaignIn) -> CampaignSpec:
    try:
        windows = tuple(DailyWindow.parse(w) for w in body.windows)
    except CampaignError as exc:
        raise exc.on("windows") from None
    try:
        retry = RetryPolicy.from_dict(body.retry_policy) if body.retry_policy else RetryPolicy()
    except CampaignError as exc:
        raise exc.on("retry_policy") from None
    return CampaignSpec(
        name=body.name,
        flow_id=body.flow,
        purpose=body.purpose,
        caller_ids=tuple(body.caller_ids),
        windows=windows,
        start_date=body.start_date,
        end_date=body.end_date,
        max_attempts=body.max_attempts,
        retry=retry,
        max_concurrency=body.max_concurrency,
        max_cps=body.max_cps,
        pacing=PacingMode(body.pacing),
        priority=body.priority,
        abandon_target=body.abandon_target,
    )


def _invalid(exc: CampaignError) -> ApiProblem:
    """422 whose ``errors`` name the field (``loc`` like pydantic's), so a form shows it there."""
    errors = None
    if exc.field:
        errors = [
            {
                "loc": ["body", exc.field],
                "msg": str(exc),
                "type": "invalid_campaign",
                "code": exc.code,
                "params": dict(exc.params),
            }
        ]
    return ApiProblem(
        422, "invalid_campaign", str(exc), errors=errors, code=exc.code, params=exc.params
    )


def _changed(request: Request, who: Principal, campaign_id: str, what: str, **more: Any) -> None:
    context(request).audit.record(
        AuditKind.CAMPAIGN_CHANGED, who, campaign=campaign_id, action=what, **more
    )


@router.get("/campaigns", response_model=list[CampaignOut])
def list_campaigns(
    request: Request, principal: Principal = require(Permission.CAMPAIGNS_READ)
) -> list[CampaignOut]:
    """Every campaign, newest first, with its progress."""
    desk = _desk(request)
    found = sorted(desk.repo.all(), key=lambda c: c.created_at, reverse=True)
    return [CampaignOut(**_fields(desk.status(c.id))) for c in found]


@router.get("/campaign-choices", response_model=CampaignChoices)
def campaign_choices(
    request: Request, principal: Principal = require(Permission.CAMPAIGNS_READ)
) -> CampaignChoices:
    """What the create form offers: outbound flows, rules purposes with their windows."""
    desk = _desk(request)
    flows, purposes = desk.choices()
    return CampaignChoices(
        flows=flows,
        purposes=[PurposeOut(purpose=p, window=w) for p, w in purposes.items()],
        timezone=desk.zone.key,
    )


@router.get("/campaigns/{ref}", response_model=CampaignDetail)
def campaign_detail(
    ref: str, request: Request, principal: Principal = require(Permission.CAMPAIGNS_READ)
) -> CampaignDetail:
    """One campaign (id or name): attempts by state and by disposition, progress, next due."""
    return _detail(_status(_desk(request), ref))


@router.post("/campaigns", response_model=CampaignDetail, status_code=201)
def create_campaign(
    body: CampaignIn,
    request: Request,
    principal: Principal = require(Permission.CAMPAIGNS_MANAGE),
) -> CampaignDetail:
    """A new campaign in ``draft`` (flow outbound, purpose with rules, windows inside them)."""
    desk = _desk(request)
    try:
        spec = _spec(body)
        camp = desk.create(spec, actor=principal.username, now=context(request).auth.clock())
    except CampaignError as exc:
        raise _invalid(exc) from None
    _changed(request, principal, camp.id, "create", name=camp.name)
    return _detail(desk.status(camp.id))


@router.post("/campaigns/{ref}/import", response_model=ImportOut)
def import_list(
    ref: str,
    request: Request,
    file: UploadFile = File(description="the list: CSV or XLSX, number + optional columns"),
    principal: Principal = require(Permission.CAMPAIGNS_MANAGE),
) -> ImportOut:
    """Import a list; rows that fail come back with row, column and why (the rest is kept).
    The same file twice is a no-op (``repeated``)."""
    desk = _desk(request)
    camp = _status(desk, ref).campaign
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ApiProblem(
            413,
            "too_large",
            "the list is larger than 32 MiB",
            code="list.too_large",
            params={"max_mib": MAX_UPLOAD_BYTES // 2**20},
        )
    suffix = Path(file.filename or "list.csv").suffix.lower() or ".csv"
    with tempfile.TemporaryDirectory(prefix="ivr-import-") as tmp:
        path = Path(tmp) / f"list{suffix}"
        path.write_bytes(data)
        try:
            result = desk.import_list(camp.id, path, now=context(request).auth.clock())
        except CampaignError as exc:
            raise ApiProblem(
                422, "invalid_list", str(exc), code=exc.code, params=exc.params
            ) from None
    _changed(
        request,
        principal,
        camp.id,
        "import",
        rows=result.rows,
        accepted=result.accepted,
        rejected=len(result.errors),
        repeated=result.repeated,
    )
    return ImportOut(
        import_id=result.import_id,
        rows=result.rows,
        accepted=result.accepted,
        merged=result.merged,
        repeated=result.repeated,
        errors=[
            RowErrorOut(row=e.row, column=e.column, why=e.why, code=e.code, params=dict(e.params))
            for e in result.errors
        ],
    )


@router.post("/campaigns/{ref}/{action}", response_model=CampaignDetail)
def control_campaign(
    ref: str,
    action: Action,
    request: Request,
    principal: Principal = require(Permission.CAMPAIGNS_MANAGE),
) -> CampaignDetail:
    """Start, pause, resume or stop (the dialler follows within a second)."""
    desk = _desk(request)
    camp = _status(desk, ref).campaign
    try:
        after = desk.act(camp.id, action, now=context(request).auth.clock())
    except CampaignError as exc:
        raise ApiProblem(409, "conflict", str(exc), code=exc.code, params=exc.params) from None
    _changed(request, principal, camp.id, action, before=camp.state.value, after=after.state.value)
    return _detail(desk.status(camp.id))


@router.get(
    "/campaigns/{ref}/export",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "masked results"}},
)
def export_campaign(
    ref: str, request: Request, principal: Principal = require(Permission.CAMPAIGNS_READ)
) -> Response:
    """Results per number as CSV: masked number, attempts, dispositions, consent, DNC now."""
    desk = _desk(request)
    camp = _status(desk, ref).campaign
    text = desk.export_csv(camp.id)
    context(request).audit.customer_data_read(
        principal, "campaign_export", campaign=camp.id, masked=True
    )
    return Response(
        content=text.encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="campaign-{camp.id}.csv"'},
    )
