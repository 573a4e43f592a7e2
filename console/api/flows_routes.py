"""``/api/v1/flows``, ``/api/v1/prompts``, ``/api/v1/changes``: the flow designer's API.

Drafts are saved with optimistic concurrency (``base_revision``: a stale one gets 409 with what
is stored, and nothing is lost); checks are the product's own validator; publishing makes a new
version the running servers pick up, or a change that a second person (a compliance officer who
is not the author) approves; rolling back publishes an old version again.
"""

from __future__ import annotations

import difflib
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from console.api.deps import context, require
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.designer.documents import Change, Draft, NotFoundError, Version
from console.designer.flowdoc import check_text
from console.designer.service import DesignerService, PublishOutcome, flow_json_of
from console.designer.simulate import CallerTurn, simulate_call
from console.designer.touches import REGULATED_PROMPTS
from console.identity import Principal
from console.permissions import Permission
from flows.cli import flow_json_schema

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
NAME = r"^[a-z][a-z0-9_]{0,63}$"
MAX_INT = 2**31 - 1  # what SQL integer columns hold


class Position(BaseModel):
    x: float
    y: float


class IssueOut(BaseModel):
    code: str
    message: str
    line: int = 1
    node: str | None = None
    path: list[dict[str, str | None]] = Field(default_factory=list)
    flow: str | None = None


class VersionOut(BaseModel):
    version: int
    sha256: str
    source: str
    author: str
    approved_by: str | None
    change_id: str | None
    published_at: datetime
    content: str
    document: dict[str, Any]
    layout: dict[str, Any]


class DraftOut(BaseModel):
    revision: int
    base_version: int
    updated_by: str
    updated_at: datetime
    content: str
    document: dict[str, Any]
    layout: dict[str, Any]
    issues: list[IssueOut] = Field(default_factory=list)


class FlowSummary(BaseModel):
    name: str
    version: int | None
    published_at: datetime | None
    draft_revision: int | None
    draft_by: str | None
    pending_changes: int


class FlowDocument(BaseModel):
    name: str
    published: VersionOut | None
    draft: DraftOut | None
    pending: list[str]


class SaveFlowDraft(BaseModel):
    flow: dict[str, Any]
    layout: dict[str, Position] = Field(default_factory=dict)
    base_revision: int = Field(
        ge=0, le=MAX_INT, description="the revision you loaded; 0 for a new draft"
    )


class CheckFlow(BaseModel):
    flow: dict[str, Any]


class CheckResult(BaseModel):
    ok: bool
    issues: list[IssueOut]


class PublishRequest(BaseModel):
    base_revision: int = Field(ge=1, le=MAX_INT)


class RollbackRequest(BaseModel):
    version: int = Field(ge=1, le=MAX_INT)


class ChangeOut(BaseModel):
    id: str
    kind: str
    name: str
    base_version: int
    touches: list[str]
    author: str
    submitted_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    diff: str = ""


class PublishResult(BaseModel):
    status: Literal["published", "pending"]
    version: VersionOut | None = None
    change: ChangeOut | None = None


class DecisionRequest(BaseModel):
    note: str = Field(default="", max_length=2000)


class DiffOut(BaseModel):
    diff: str


class TurnIn(BaseModel):
    kind: Literal["say", "dtmf", "silent", "hangup"]
    value: str = Field(default="", max_length=200)


class SimulateRequest(BaseModel):
    source: Literal["draft", "published"] = "draft"
    caller: str = Field(default="13800138000", max_length=32)
    turns: list[TurnIn] = Field(default_factory=list, max_length=30)
    agent_available: bool = True


class SimLine(BaseModel):
    t: float
    who: str
    what: str
    detail: str
    audio: bool


class SimulationOut(BaseModel):
    simulation_id: str
    flow: str
    caller: str
    transcript: list[SimLine]
    hangup_by: str | None
    hangup_cause: str | None
    transfer: str | None
    evidence: list[str]


class PromptsOut(BaseModel):
    published: VersionOut | None
    draft: DraftOut | None
    regulated: list[str]


class SavePrompts(BaseModel):
    prompts: dict[str, dict[str, Any]]
    base_revision: int = Field(ge=0, le=MAX_INT)


def _doc(content: str) -> dict[str, Any]:
    return flow_json_of(content)


def version_out(v: Version) -> VersionOut:
    return VersionOut(
        version=v.version,
        sha256=v.sha256,
        source=v.source,
        author=v.author,
        approved_by=v.approved_by,
        change_id=v.change_id,
        published_at=v.published_at,
        content=v.content,
        document=_doc(v.content),
        layout=v.layout,
    )


def draft_out(d: Draft, issues: list[dict[str, Any]] | None = None) -> DraftOut:
    return DraftOut(
        revision=d.revision,
        base_version=d.base_version,
        updated_by=d.updated_by,
        updated_at=d.updated_at,
        content=d.content,
        document=_doc(d.content),
        layout=d.layout,
        issues=[IssueOut.model_validate(i) for i in issues or []],
    )


def change_out(c: Change, diff: str = "") -> ChangeOut:
    return ChangeOut(
        id=c.id,
        kind=c.kind,
        name=c.name,
        base_version=c.base_version,
        touches=c.touches,
        author=c.author,
        submitted_at=c.submitted_at,
        status=c.status,
        decided_by=c.decided_by,
        decided_at=c.decided_at,
        decision_note=c.decision_note,
        diff=diff,
    )


def outcome_out(o: PublishOutcome) -> PublishResult:
    return PublishResult(
        status="published" if o.status == "published" else "pending",
        version=version_out(o.version) if o.version else None,
        change=change_out(o.change) if o.change else None,
    )


def _pending(request: Request, kind: str, name: str) -> list[str]:
    changes, _ = context(request).designer.store.changes("pending", kind, 100, 0)
    return [c.id for c in changes if c.name == name]


# -- flows ------------------------------------------------------------------------------------


@router.get("/flow-schema", tags=["flows"])
def flow_schema(_: Principal = require(Permission.FLOWS_READ)) -> dict[str, Any]:
    """The flow JSON Schema (the designer's palette and property forms are made from it)."""
    return flow_json_schema()


@router.get("/flows", tags=["flows"])
def list_flows(
    request: Request,
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.FLOWS_READ),
) -> Page[FlowSummary]:
    designer = context(request).designer
    designer.publisher.sync()
    names = designer.store.names("flow")
    items = []
    for name in names[page.offset : page.offset + page.limit]:
        latest = designer.store.latest("flow", name)
        draft = designer.store.draft("flow", name)
        items.append(
            FlowSummary(
                name=name,
                version=latest.version if latest else None,
                published_at=latest.published_at if latest else None,
                draft_revision=draft.revision if draft else None,
                draft_by=draft.updated_by if draft else None,
                pending_changes=len(_pending(request, "flow", name)),
            )
        )
    return Page(items=items, total=len(names), limit=page.limit, offset=page.offset)


@router.get("/flows/{name}", tags=["flows"])
def get_flow(
    name: str, request: Request, _: Principal = require(Permission.FLOWS_READ)
) -> FlowDocument:
    designer = context(request).designer
    designer.publisher.sync()
    latest = designer.store.latest("flow", name)
    draft = designer.store.draft("flow", name)
    if latest is None and draft is None:
        raise ApiProblem(404, "not_found", f"no flow named {name!r}")
    issues = (
        [i.as_dict() for i in check_text(draft.content, f"{name}.yaml", designer.prompts()).issues]
        if draft
        else []
    )
    return FlowDocument(
        name=name,
        published=version_out(latest) if latest else None,
        draft=draft_out(draft, issues) if draft else None,
        pending=_pending(request, "flow", name),
    )


@router.post("/flows/check", tags=["flows"])
def check_flow(
    body: CheckFlow, request: Request, _: Principal = require(Permission.FLOWS_READ)
) -> CheckResult:
    """Live validation by the server's own validator; compliance issues carry their path."""
    check = context(request).designer.check_flow(body.flow)
    return CheckResult(
        ok=check.ok, issues=[IssueOut.model_validate(i.as_dict()) for i in check.issues]
    )


@router.put("/flows/{name}/draft", tags=["flows"])
def save_flow_draft(
    name: str,
    body: SaveFlowDraft,
    request: Request,
    actor: Principal = require(Permission.FLOWS_EDIT),
) -> DraftOut:
    if not _valid_name(name):
        raise ApiProblem(422, "invalid_input", "a flow name is lower-case letters, digits, '_'")
    layout = {k: v.model_dump() for k, v in body.layout.items()}
    draft, check = context(request).designer.save_flow_draft(
        actor, name, body.flow, layout, body.base_revision
    )
    return draft_out(draft, [i.as_dict() for i in check.issues])


@router.get("/flows/{name}/diff", tags=["flows"])
def flow_diff(
    name: str, request: Request, _: Principal = require(Permission.FLOWS_READ)
) -> DiffOut:
    return DiffOut(diff=context(request).designer.diff("flow", name))


@router.get("/flows/{name}/versions", tags=["flows"])
def flow_versions(
    name: str,
    request: Request,
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.FLOWS_READ),
) -> Page[VersionOut]:
    found, total = context(request).designer.store.versions("flow", name, page.limit, page.offset)
    return Page(
        items=[version_out(v) for v in found], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/flows/{name}/publish", tags=["flows"])
def publish_flow(
    name: str,
    body: PublishRequest,
    request: Request,
    response: Response,
    actor: Principal = require(Permission.FLOWS_EDIT),
) -> PublishResult:
    """Publish the draft: a new version now, or (touching disclosure, consent or marketing) a
    change waiting for a compliance officer who is not you (202)."""
    outcome = context(request).designer.publish(actor, "flow", name, body.base_revision)
    response.status_code = 201 if outcome.status == "published" else 202
    return outcome_out(outcome)


@router.post("/flows/{name}/rollback", tags=["flows"])
def rollback_flow(
    name: str,
    body: RollbackRequest,
    request: Request,
    response: Response,
    actor: Principal = require(Permission.FLOWS_ROLLBACK),
) -> PublishResult:
    outcome = context(request).designer.rollback(actor, "flow", name, body.version)
    response.status_code = 201 if outcome.status == "published" else 202
    return outcome_out(outcome)


@router.post("/flows/{name}/simulate", tags=["flows"])
async def simulate_flow(
    name: str,
    body: SimulateRequest,
    request: Request,
    _: Principal = require(Permission.FLOWS_SIMULATE),
) -> SimulationOut:
    """One call through the real orchestrator and simulator, in a sandbox (no real DNC)."""
    ctx = context(request)
    designer = ctx.designer
    source = designer.store.draft("flow", name) if body.source == "draft" else None
    text = source.content if source else None
    if text is None:
        latest = designer.store.latest("flow", name)
        if latest is None:
            raise ApiProblem(404, "not_found", f"no flow named {name!r}")
        text = latest.content
    prompts = designer.store.latest("prompts", "prompts")
    if prompts is None:
        raise ApiProblem(409, "conflict", "no prompt table is published")
    issues = check_text(text, f"{name}.yaml", designer.prompts()).issues
    if issues:
        raise ApiProblem(
            422,
            "invalid_flow",
            "the flow does not pass its checks: fix it before simulating",
            errors=[i.as_dict() for i in issues],
        )
    result = await simulate_call(
        ctx.settings,
        ctx.simulations,
        flow_name=name,
        flow_text=text,
        prompts_text=prompts.content,
        caller=body.caller,
        turns=[CallerTurn(t.kind, t.value) for t in body.turns],
        agent_available=body.agent_available,
    )
    return SimulationOut.model_validate(result)


@router.get(
    "/simulations/{simulation_id}/audio/{line}",
    tags=["flows"],
    response_class=Response,
    responses={200: {"content": {"audio/wav": {}}, "description": "WAV audio"}},
)
def simulation_audio(
    simulation_id: str,
    line: Annotated[int, PathParam(ge=0, le=10_000)],
    request: Request,
    _: Principal = require(Permission.FLOWS_SIMULATE),
) -> Response:
    data = context(request).simulations.get(simulation_id, line)
    if data is None:
        raise ApiProblem(
            404, "not_found", "no such simulated prompt (simulations are kept a while)"
        )
    return Response(data, media_type="audio/wav")


# -- the prompt table ---------------------------------------------------------------------------


@router.get("/prompts", tags=["prompts"])
def get_prompts(request: Request, _: Principal = require(Permission.FLOWS_READ)) -> PromptsOut:
    designer = context(request).designer
    designer.publisher.sync()
    latest = designer.store.latest("prompts", "prompts")
    draft = designer.store.draft("prompts", "prompts")
    return PromptsOut(
        published=version_out(latest) if latest else None,
        draft=draft_out(draft) if draft else None,
        regulated=sorted(REGULATED_PROMPTS),
    )


@router.put("/prompts/draft", tags=["prompts"])
def save_prompts_draft(
    body: SavePrompts, request: Request, actor: Principal = require(Permission.PROMPTS_EDIT)
) -> DraftOut:
    """Save the prompt table draft; regulated wording (disclosure, risk warning) needs
    ``prompts.edit_regulated`` (compliance officers)."""
    draft = context(request).designer.save_prompts_draft(actor, body.prompts, body.base_revision)
    return draft_out(draft)


@router.post("/prompts/publish", tags=["prompts"])
def publish_prompts(
    body: PublishRequest,
    request: Request,
    response: Response,
    actor: Principal = require(Permission.PROMPTS_EDIT),
) -> PublishResult:
    outcome = context(request).designer.publish(actor, "prompts", "prompts", body.base_revision)
    response.status_code = 201 if outcome.status == "published" else 202
    return outcome_out(outcome)


# -- changes (four eyes) ----------------------------------------------------------------------


@router.get("/changes", tags=["changes"])
def list_changes(
    request: Request,
    status: Literal["pending", "approved", "rejected", "superseded"] | None = Query(None),
    kind: Literal["flow", "prompts", "rules"] | None = Query(None),
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.CHANGES_READ),
) -> Page[ChangeOut]:
    found, total = context(request).designer.store.changes(status, kind, page.limit, page.offset)
    return Page(
        items=[change_out(c) for c in found], total=total, limit=page.limit, offset=page.offset
    )


@router.get("/changes/{change_id}", tags=["changes"])
def get_change(
    change_id: str, request: Request, _: Principal = require(Permission.CHANGES_READ)
) -> ChangeOut:
    designer = context(request).designer
    change = designer.store.change(change_id)
    return change_out(change, change_diff(designer, change))


def change_diff(designer: DesignerService, change: Change) -> str:
    try:
        base = designer.store.version(change.kind, change.name, change.base_version).content
    except NotFoundError:  # a new document has no base version
        base = ""
    return "".join(
        difflib.unified_diff(
            base.splitlines(keepends=True),
            change.content.splitlines(keepends=True),
            fromfile=f"{change.name} v{change.base_version}",
            tofile=f"{change.name} change",
        )
    )


@router.post("/changes/{change_id}/approve", tags=["changes"])
def approve_change(
    change_id: str,
    body: DecisionRequest,
    request: Request,
    approver: Principal = require(Permission.CHANGES_APPROVE),
) -> VersionOut:
    """Approve and publish (four eyes: not by its author); the approval is evidence."""
    return version_out(context(request).designer.approve(approver, change_id, body.note))


@router.post("/changes/{change_id}/reject", tags=["changes"])
def reject_change(
    change_id: str,
    body: DecisionRequest,
    request: Request,
    approver: Principal = require(Permission.CHANGES_APPROVE),
) -> ChangeOut:
    return change_out(context(request).designer.reject(approver, change_id, body.note))


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME, name) is not None
