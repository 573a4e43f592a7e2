"""Models and converters the designer's routers share (flows, prompts, rules, changes): published
versions, drafts, four-eyes changes and their diffs, as the API shows them."""

from __future__ import annotations

import difflib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from console.designer.documents import Change, Draft, NotFoundError, Version
from console.designer.service import DesignerService, PublishOutcome, flow_json_of

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
    params: dict[str, str | int | float] = Field(
        default_factory=dict, description="parameters of the message code flow.<code>"
    )


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
