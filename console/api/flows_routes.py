"""``/api/v1/flows``: the flow designer's API (the prompt table and four-eyes changes are
``prompts_routes`` and ``changes_routes``; their shared models ``designer_models``).

Drafts are saved with optimistic concurrency (``base_revision``: a stale one gets 409 with what
is stored, and nothing is lost); checks are the product's own validator; publishing makes a new
version the running servers pick up, or a change that a second person (a compliance officer who
is not the author) approves; rolling back publishes an old version again.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Field

from console.api.deps import context, require
from console.api.designer_models import (
    MAX_INT,
    DiffOut,
    DraftOut,
    IssueOut,
    Position,
    PublishRequest,
    PublishResult,
    RollbackRequest,
    VersionOut,
    draft_out,
    outcome_out,
    version_out,
)
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.designer.flowdoc import check_text
from console.designer.simulate import CallerTurn, simulate_call
from console.identity import Principal
from console.permissions import Permission
from flows.cli import flow_json_schema

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
NAME = r"^[a-z][a-z0-9_]{0,63}$"


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
    code: str | None = Field(default=None, description="message code of ``what`` (an event)")
    detail_code: str | None = Field(default=None, description="message code of ``detail``")
    params: dict[str, str | int | float] = Field(default_factory=dict)


class SimulationOut(BaseModel):
    simulation_id: str
    flow: str
    caller: str
    transcript: list[SimLine]
    hangup_by: str | None
    hangup_cause: str | None
    transfer: str | None
    evidence: list[str]


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
        raise ApiProblem(
            404, "not_found", f"no flow named {name!r}", code="flows.unknown", params={"flow": name}
        )
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
        raise ApiProblem(
            422,
            "invalid_input",
            "a flow name is lower-case letters, digits, '_'",
            code="flows.name_format",
        )
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
            raise ApiProblem(
                404,
                "not_found",
                f"no flow named {name!r}",
                code="flows.unknown",
                params={"flow": name},
            )
        text = latest.content
    prompts = designer.store.latest("prompts", "prompts")
    if prompts is None:
        raise ApiProblem(
            409, "conflict", "no prompt table is published", code="flows.no_prompt_table"
        )
    issues = check_text(text, f"{name}.yaml", designer.prompts()).issues
    if issues:
        raise ApiProblem(
            422,
            "invalid_flow",
            "the flow does not pass its checks: fix it before simulating",
            errors=[i.as_dict() for i in issues],
            code="flows.simulate_invalid",
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
            404,
            "not_found",
            "no such simulated prompt (simulations are kept a while)",
            code="flows.no_simulated_prompt",
        )
    return Response(data, media_type="audio/wav")


def _valid_name(name: str) -> bool:
    return re.fullmatch(NAME, name) is not None
