"""The designer's documents in SQL: drafts (optimistic concurrency on ``revision``), every
published version, and changes waiting for a second person's approval.

A document is ``(kind, name)``: ``flow``/<flow name>, ``prompts``/``prompts``, ``rules``/<stem>.
Writers that must commit with evidence take the caller's connection. What a draft, version and
change are, and the store's errors, live in :mod:`console.designer.document_types` (re-exported
here).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from console.designer.document_types import (
    Change,
    ConflictError,
    Draft,
    NotFoundError,
    Version,
    change_from_row,
    draft_from_row,
    draft_summary,
    sha256,
    version_from_row,
)
from console.tables import console_changes, console_drafts, console_versions

__all__ = [
    "Change",
    "ConflictError",
    "DocumentStore",
    "Draft",
    "NotFoundError",
    "Version",
    "draft_summary",
    "sha256",
]


class DocumentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- drafts -------------------------------------------------------------------------------

    def draft(self, kind: str, name: str) -> Draft | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(console_drafts).where(
                        console_drafts.c.doc_kind == kind, console_drafts.c.name == name
                    )
                )
                .mappings()
                .first()
            )
        return draft_from_row(row) if row else None

    def save_draft(
        self,
        kind: str,
        name: str,
        *,
        content: str,
        layout: dict[str, Any],
        base_revision: int,
        base_version: int,
        actor: str,
        now: datetime,
    ) -> Draft:
        """Save if the stored revision is still ``base_revision`` (0: no draft yet); else
        :class:`ConflictError` with the stored draft, and nothing is written."""
        values = {
            "content": content,
            "layout": json.dumps(layout, sort_keys=True),
            "updated_by": actor,
            "updated_at": now,
        }
        with self.engine.begin() as conn:
            if base_revision == 0:
                try:
                    conn.execute(
                        console_drafts.insert().values(
                            doc_kind=kind,
                            name=name,
                            revision=1,
                            base_version=base_version,
                            **values,
                        )
                    )
                    saved = True
                except SqlIntegrityError:
                    saved = False
            else:
                result = conn.execute(
                    console_drafts.update()
                    .where(
                        console_drafts.c.doc_kind == kind,
                        console_drafts.c.name == name,
                        console_drafts.c.revision == base_revision,
                    )
                    .values(revision=base_revision + 1, **values)
                )
                saved = result.rowcount == 1
        current = self.draft(kind, name)
        if not saved:
            raise ConflictError(
                f"{kind} {name} was saved meanwhile"
                + (f" by {current.updated_by} (revision {current.revision})" if current else "")
                + ": reload it, merge your edits and save again",
                current=draft_summary(current) if current else None,
                code="designer.saved_meanwhile_by" if current else "designer.saved_meanwhile",
                params={"doc": kind, "name": name}
                | ({"user": current.updated_by, "revision": current.revision} if current else {}),
            )
        assert current is not None
        return current

    def delete_draft(self, conn: Connection, kind: str, name: str) -> None:
        conn.execute(
            console_drafts.delete().where(
                console_drafts.c.doc_kind == kind, console_drafts.c.name == name
            )
        )

    # -- versions -----------------------------------------------------------------------------

    def latest(self, kind: str, name: str) -> Version | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(console_versions)
                    .where(console_versions.c.doc_kind == kind, console_versions.c.name == name)
                    .order_by(console_versions.c.version.desc())
                    .limit(1)
                )
                .mappings()
                .first()
            )
        return version_from_row(row) if row else None

    def version(self, kind: str, name: str, number: int) -> Version:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(console_versions).where(
                        console_versions.c.doc_kind == kind,
                        console_versions.c.name == name,
                        console_versions.c.version == number,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"{kind} {name} has no version {number}",
                code="designer.no_version",
                params={"doc": kind, "name": name, "version": number},
            )
        return version_from_row(row)

    def versions(self, kind: str, name: str, limit: int, offset: int) -> tuple[list[Version], int]:
        where = (console_versions.c.doc_kind == kind, console_versions.c.name == name)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(console_versions)
                .where(*where)
                .order_by(console_versions.c.version.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            found = [version_from_row(r) for r in rows]
            total = conn.execute(
                sa.select(sa.func.count()).select_from(console_versions).where(*where)
            ).scalar_one()
        return found, int(total)

    def names(self, kind: str) -> list[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(console_versions.c.name)
                .where(console_versions.c.doc_kind == kind)
                .union(sa.select(console_drafts.c.name).where(console_drafts.c.doc_kind == kind))
            ).scalars()
            return sorted(set(rows))

    def add_version(
        self,
        conn: Connection,
        kind: str,
        name: str,
        *,
        content: str,
        layout: dict[str, Any],
        source: str,
        author: str,
        approved_by: str | None,
        change_id: str | None,
        expected_latest: int | None,
        now: datetime,
    ) -> Version:
        """The next version; ``expected_latest`` (when given) must still be the latest."""
        latest = conn.execute(
            sa.select(sa.func.max(console_versions.c.version)).where(
                console_versions.c.doc_kind == kind, console_versions.c.name == name
            )
        ).scalar_one()
        latest = int(latest or 0)
        if expected_latest is not None and latest != expected_latest:
            raise ConflictError(
                f"{kind} {name} was published meanwhile (now version {latest}, this change "
                f"was made on version {expected_latest}): make the change again on the new version",
                code="designer.published_meanwhile",
                params={"doc": kind, "name": name, "latest": latest, "base": expected_latest},
            )
        row = {
            "doc_kind": kind,
            "name": name,
            "version": latest + 1,
            "content": content,
            "layout": json.dumps(layout, sort_keys=True),
            "content_sha256": sha256(content),
            "source": source,
            "author": author,
            "approved_by": approved_by,
            "change_id": change_id,
            "published_at": now,
        }
        try:
            conn.execute(console_versions.insert().values(**row))
        except SqlIntegrityError as exc:
            raise ConflictError(
                f"{kind} {name} was published meanwhile",
                code="designer.published_concurrently",
                params={"doc": kind, "name": name},
            ) from exc
        return Version(
            kind,
            name,
            latest + 1,
            content,
            layout,
            sha256(content),
            source,
            author,
            approved_by,
            change_id,
            now,
        )

    # -- changes (four eyes) --------------------------------------------------------------------

    def submit(
        self,
        conn: Connection,
        kind: str,
        name: str,
        *,
        base_version: int,
        content: str,
        layout: dict[str, Any],
        touches: list[str],
        author: str,
        now: datetime,
    ) -> Change:
        conn.execute(
            console_changes.update()
            .where(
                console_changes.c.doc_kind == kind,
                console_changes.c.name == name,
                console_changes.c.status == "pending",
                console_changes.c.author == author,
            )
            .values(status="superseded", decided_at=now, decided_by=author)
        )
        change_id = str(uuid.uuid4())
        conn.execute(
            console_changes.insert().values(
                id=change_id,
                doc_kind=kind,
                name=name,
                base_version=base_version,
                content=content,
                layout=json.dumps(layout, sort_keys=True),
                touches=json.dumps(touches),
                author=author,
                submitted_at=now,
                status="pending",
            )
        )
        row = (
            conn.execute(sa.select(console_changes).where(console_changes.c.id == change_id))
            .mappings()
            .one()
        )
        return change_from_row(row)

    def change(self, change_id: str) -> Change:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(console_changes).where(console_changes.c.id == change_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFoundError(
                f"no change {change_id}", code="designer.no_change", params={"change": change_id}
            )
        return change_from_row(row)

    def changes(
        self, status: str | None, kind: str | None, limit: int, offset: int
    ) -> tuple[list[Change], int]:
        where = []
        if status:
            where.append(console_changes.c.status == status)
        if kind:
            where.append(console_changes.c.doc_kind == kind)
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(console_changes)
                .where(*where)
                .order_by(console_changes.c.submitted_at.desc())
                .limit(limit)
                .offset(offset)
            ).mappings()
            found = [change_from_row(r) for r in rows]
            total = conn.execute(
                sa.select(sa.func.count()).select_from(console_changes).where(*where)
            ).scalar_one()
        return found, int(total)

    def decide(
        self, conn: Connection, change_id: str, status: str, by: str, note: str, now: datetime
    ) -> None:
        result = conn.execute(
            console_changes.update()
            .where(console_changes.c.id == change_id, console_changes.c.status == "pending")
            .values(status=status, decided_by=by, decided_at=now, decision_note=note)
        )
        if result.rowcount != 1:
            raise ConflictError(
                f"change {change_id} is no longer pending",
                code="designer.change_decided",
                params={"change": change_id},
            )
