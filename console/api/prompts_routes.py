"""``/api/v1/prompts``: the shared prompt table as a designer document (draft with optimistic
concurrency, publish or submit for four eyes); disclosure and risk-warning wording need
``prompts.edit_regulated``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from console.api.deps import context, require
from console.api.designer_models import (
    MAX_INT,
    DraftOut,
    PublishRequest,
    PublishResult,
    VersionOut,
    draft_out,
    outcome_out,
    version_out,
)
from console.api.problems import PROBLEM_RESPONSES
from console.designer.touches import REGULATED_PROMPTS
from console.identity import Principal
from console.permissions import Permission

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


class PromptsOut(BaseModel):
    published: VersionOut | None
    draft: DraftOut | None
    regulated: list[str]


class SavePrompts(BaseModel):
    prompts: dict[str, dict[str, Any]]
    base_revision: int = Field(ge=0, le=MAX_INT)


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
