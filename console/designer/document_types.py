"""What the designer's documents are: drafts, published versions and changes waiting for a
second person's approval (frozen records read from their SQL rows), the two errors of the
document store (a stale write, a missing document) and a draft's summary for a conflict reply.
The store itself is :class:`console.designer.documents.DocumentStore`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from ivr.errors import IvrError, Param

DocKind = Literal["flow", "prompts", "rules"]


class ConflictError(IvrError):
    """Someone else changed the document since you loaded it; ``current`` is what is there."""

    code = "designer.conflict"

    def __init__(
        self,
        message: str,
        current: dict[str, Any] | None = None,
        *,
        code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        super().__init__(message, code=code, params=params)
        self.current = current


class NotFoundError(IvrError):
    """No such document, version or change."""

    code = "designer.not_found"


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


@dataclass(frozen=True, slots=True)
class Draft:
    kind: str
    name: str
    revision: int
    base_version: int
    content: str
    layout: dict[str, Any]
    updated_by: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class Version:
    kind: str
    name: str
    version: int
    content: str
    layout: dict[str, Any]
    sha256: str
    source: str
    author: str
    approved_by: str | None
    change_id: str | None
    published_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    kind: str
    name: str
    base_version: int
    content: str
    layout: dict[str, Any]
    touches: list[str]
    author: str
    submitted_at: datetime
    status: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None


def draft_from_row(r: sa.RowMapping) -> Draft:
    return Draft(
        r["doc_kind"],
        r["name"],
        int(r["revision"]),
        int(r["base_version"]),
        r["content"],
        json.loads(r["layout"]),
        r["updated_by"],
        _aware(r["updated_at"]) or r["updated_at"],
    )


def version_from_row(r: sa.RowMapping) -> Version:
    return Version(
        r["doc_kind"],
        r["name"],
        int(r["version"]),
        r["content"],
        json.loads(r["layout"]),
        r["content_sha256"],
        r["source"],
        r["author"],
        r["approved_by"],
        r["change_id"],
        _aware(r["published_at"]) or r["published_at"],
    )


def change_from_row(r: sa.RowMapping) -> Change:
    return Change(
        r["id"],
        r["doc_kind"],
        r["name"],
        int(r["base_version"]),
        r["content"],
        json.loads(r["layout"]),
        json.loads(r["touches"]),
        r["author"],
        _aware(r["submitted_at"]) or r["submitted_at"],
        r["status"],
        r["decided_by"],
        _aware(r["decided_at"]),
        r["decision_note"],
    )


def draft_summary(d: Draft) -> dict[str, Any]:
    return {
        "revision": d.revision,
        "base_version": d.base_version,
        "updated_by": d.updated_by,
        "updated_at": d.updated_at.isoformat(),
        "content": d.content,
        "layout": d.layout,
    }
