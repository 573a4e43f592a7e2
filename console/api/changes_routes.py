"""``/api/v1/changes``: four-eyes changes of flows, the prompt table and the rules: list, read
with the diff against the version they change, approve (publishes; never by the author) or
reject; every decision is evidence."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from console.api.deps import context, require
from console.api.designer_models import (
    ChangeOut,
    DecisionRequest,
    VersionOut,
    change_diff,
    change_out,
    version_out,
)
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES
from console.identity import Principal
from console.permissions import Permission

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)


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
