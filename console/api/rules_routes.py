"""``/api/v1/rules``: the rules in force and their versions, edit a draft with validation (the
compliance rules parser) and diff, submit for a second compliance officer's approval (every
rules change), roll back, and tell running servers to reload (they poll the file)."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from console.api.deps import context, require
from console.api.designer_models import (
    DiffOut,
    DraftOut,
    IssueOut,
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
from console.audit import AuditKind
from console.designer.rules_docs import rules_issues, rules_version
from console.identity import Principal
from console.permissions import Permission

router = APIRouter(prefix="/api/v1/rules", tags=["rules"], responses=PROBLEM_RESPONSES)
MAX_RULES = 256 * 1024


class RulesOut(BaseModel):
    name: str
    rules_version: str | None
    published: VersionOut | None
    draft: DraftOut | None
    pending: list[str]


class RulesText(BaseModel):
    content: str = Field(max_length=MAX_RULES)


class SaveRules(RulesText):
    base_revision: int = Field(ge=0, le=2**31 - 1)


class CheckOut(BaseModel):
    ok: bool
    issues: list[IssueOut]


class ReloadOut(BaseModel):
    version: str | None
    source: str


def _name(request: Request) -> str:
    return context(request).settings.rules_path.stem


@router.get("")
def get_rules(request: Request, _p: Principal = require(Permission.RULES_READ)) -> RulesOut:
    designer = context(request).designer
    designer.publisher.sync()
    name = _name(request)
    latest = designer.store.latest("rules", name)
    draft = designer.store.draft("rules", name)
    pending, _total = designer.store.changes("pending", "rules", 100, 0)
    return RulesOut(
        name=name,
        rules_version=rules_version(latest.content) if latest else None,
        published=version_out(latest) if latest else None,
        draft=draft_out(draft) if draft else None,
        pending=[c.id for c in pending if c.name == name],
    )


def _issues(request: Request, text: str) -> list[dict[str, Any]]:
    designer = context(request).designer
    designer.publisher.sync()
    latest = designer.store.latest("rules", _name(request))
    return rules_issues(text, latest.content if latest else None)


@router.post("/check")
def check_rules(
    body: RulesText, request: Request, _: Principal = require(Permission.RULES_READ)
) -> CheckOut:
    issues = _issues(request, body.content)
    return CheckOut(ok=not issues, issues=[IssueOut.model_validate(i) for i in issues])


@router.put("/draft")
def save_rules_draft(
    body: SaveRules, request: Request, actor: Principal = require(Permission.RULES_EDIT)
) -> DraftOut:
    """Save the draft (issues are reported; submitting needs none)."""
    designer = context(request).designer
    draft = designer.save_text_draft(
        actor, "rules", _name(request), body.content, body.base_revision
    )
    return draft_out(draft, _issues(request, body.content))


@router.get("/diff")
def rules_diff(request: Request, _: Principal = require(Permission.RULES_READ)) -> DiffOut:
    return DiffOut(diff=context(request).designer.diff("rules", _name(request)))


@router.get("/versions")
def rules_versions(
    request: Request,
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.RULES_READ),
) -> Page[VersionOut]:
    found, total = context(request).designer.store.versions(
        "rules", _name(request), page.limit, page.offset
    )
    return Page(
        items=[version_out(v) for v in found], total=total, limit=page.limit, offset=page.offset
    )


@router.post("/publish", status_code=202)
def publish_rules(
    body: PublishRequest,
    request: Request,
    response: Response,
    actor: Principal = require(Permission.RULES_EDIT),
) -> PublishResult:
    """Submit the draft: every rules change waits for a second compliance officer."""
    outcome = context(request).designer.publish(actor, "rules", _name(request), body.base_revision)
    response.status_code = 201 if outcome.status == "published" else 202
    return outcome_out(outcome)


@router.post("/rollback", status_code=202)
def rollback_rules(
    body: RollbackRequest,
    request: Request,
    response: Response,
    actor: Principal = require(Permission.RULES_EDIT),
) -> PublishResult:
    outcome = context(request).designer.rollback(actor, "rules", _name(request), body.version)
    response.status_code = 201 if outcome.status == "published" else 202
    return outcome_out(outcome)


@router.post("/reload")
def reload_rules(
    request: Request, actor: Principal = require(Permission.RULES_RELOAD)
) -> ReloadOut:
    """Validate the rules file, then touch it: running watchers re-read and re-validate it."""
    ctx = context(request)
    path = ctx.settings.rules_path
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ApiProblem(
            409,
            "conflict",
            f"rules file unreadable: {type(exc).__name__}",
            code="rules.unreadable",
        ) from exc
    issues = rules_issues(text, None)
    if issues:
        raise ApiProblem(
            422,
            "invalid_document",
            "the rules file in force is invalid",
            errors=issues,
            code="rules.in_force_invalid",
        )
    ctx.audit.record(
        AuditKind.RULES_RELOAD_REQUESTED, actor, version=rules_version(text), source=path.name
    )
    os.utime(path)
    return ReloadOut(version=rules_version(text), source=path.name)
