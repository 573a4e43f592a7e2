"""The designer's use cases: drafts, live checks, diff, publish (now, or as a change waiting for
a second person), approve/reject, roll back; for flows and the prompt table (rules: see
``console.designer.rules_docs``). Publishing, approving and rolling back are evidence, each in
the transaction that records the version, with the actor and the approver."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import yaml
from pydantic import ValidationError

from console.audit import Audit, AuditKind
from console.designer.documents import (
    Change,
    ConflictError,
    DocumentStore,
    Draft,
    NotFoundError,
    Version,
)
from console.designer.flowdoc import FlowCheck, Issue, check_json, check_text, from_yaml, to_yaml
from console.designer.publisher import PROMPTS_DOC, Publisher
from console.designer.touches import flow_touches, prompt_touches, regulated_prompt_edits
from console.identity import PermissionDeniedError, Principal
from console.permissions import Permission
from flows.model import Flow, Prompt, PromptTable
from ivr.errors import IvrError
from ivr.messages import value_error


class InvalidDocumentError(IvrError):
    """The document breaks the schema or the product's checks; nothing was saved."""

    code = "designer.invalid_document"

    def __init__(
        self, message: str, issues: list[dict[str, Any]], *, code: str | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.issues = issues


class FourEyesError(IvrError):
    """The author of a change cannot approve it."""

    code = "designer.four_eyes"


@dataclass(frozen=True, slots=True)
class PublishOutcome:
    status: str  # published | pending
    version: Version | None = None
    change: Change | None = None


@dataclass(frozen=True, slots=True)
class KindRules:
    """How one kind of document is checked and what its changes touch."""

    check: Callable[[str], list[dict[str, Any]]]  # content -> issues (empty = valid)
    touches: Callable[[str | None, str], list[str]]  # (published, new) -> what needs approval
    always_four_eyes: bool = False


@dataclass
class DesignerService:
    store: DocumentStore
    publisher: Publisher
    audit: Audit
    clock: Callable[[], datetime]
    extra_kinds: dict[str, KindRules] = field(default_factory=dict)

    # -- the prompt table -----------------------------------------------------------------

    def prompts(self) -> dict[str, Prompt]:
        """The published prompt table (as the registry would load it)."""
        latest = self.store.latest(*PROMPTS_DOC)
        if latest is None:
            self.publisher.sync()
            latest = self.store.latest(*PROMPTS_DOC)
        if latest is None:
            return {}
        return dict(PromptTable.model_validate(yaml.safe_load(latest.content)).prompts)

    def _kind(self, kind: str) -> KindRules:
        if kind == "flow":
            return KindRules(self._check_flow_text, self._flow_touches)
        if kind == "prompts":
            return KindRules(self._check_prompts_text, self._prompt_touches)
        try:
            return self.extra_kinds[kind]
        except KeyError:
            raise NotFoundError(
                f"no document kind {kind!r}", code="designer.no_kind", params={"doc": kind}
            ) from None

    # -- flows ----------------------------------------------------------------------------

    def check_flow(self, flow_json: Mapping[str, Any]) -> FlowCheck:
        return check_json(flow_json, self.prompts())[1]

    def _check_flow_text(self, text: str) -> list[dict[str, Any]]:
        return [i.as_dict() for i in check_text(text, "flow.yaml", self.prompts()).issues]

    def _flow_touches(self, old: str | None, new: str) -> list[str]:
        prompts = self.prompts()
        old_flow = Flow.model_validate(from_yaml(old)) if old else None
        return flow_touches(old_flow, Flow.model_validate(from_yaml(new)), prompts)

    def save_flow_draft(
        self,
        actor: Principal,
        name: str,
        flow_json: Mapping[str, Any],
        layout: dict[str, Any],
        base_revision: int,
    ) -> tuple[Draft, FlowCheck]:
        """Save a draft that parses and has no dangling edge or unknown prompt; compliance
        issues are reported (publishing is refused until they are fixed)."""
        if flow_json.get("flow") != name:
            raise InvalidDocumentError(
                "the flow's name does not match",
                [Issue("name", f"flow must be {name!r}", 1, None, (), {"name": name}).as_dict()],
            )
        text, check = check_json(flow_json, self.prompts())
        if check.structural:
            raise InvalidDocumentError(
                f"{len(check.structural)} issue(s) make this flow unusable; nothing was saved",
                [i.as_dict() for i in check.structural],
            )
        draft = self._save_draft(actor, "flow", name, text, layout, base_revision)
        return draft, check

    def _save_draft(
        self,
        actor: Principal,
        kind: str,
        name: str,
        content: str,
        layout: dict[str, Any],
        base_revision: int,
    ) -> Draft:
        self.publisher.sync()
        latest = self.store.latest(kind, name)
        current = self.store.draft(kind, name)
        base_version = current.base_version if current else (latest.version if latest else 0)
        return self.store.save_draft(
            kind,
            name,
            content=content,
            layout=layout,
            base_revision=base_revision,
            base_version=base_version,
            actor=actor.username,
            now=self.clock(),
        )

    def save_text_draft(
        self, actor: Principal, kind: str, name: str, content: str, base_revision: int
    ) -> Draft:
        """A draft of a text document (rules): checked when submitted, not when saved."""
        return self._save_draft(actor, kind, name, content, {}, base_revision)

    # -- prompts ----------------------------------------------------------------------------

    def _check_prompts_text(self, text: str) -> list[dict[str, Any]]:
        try:
            table = PromptTable.model_validate(yaml.safe_load(text))
        except (ValidationError, yaml.YAMLError) as exc:
            return [{"code": "schema", "message": str(exc), "line": 1, "node": None, "path": []}]
        issues: list[dict[str, Any]] = []
        for kind, name in self.publisher.on_disk():
            if kind != "flow":
                continue
            latest = self.store.latest("flow", name)
            if latest is None:
                continue
            for issue in check_text(latest.content, f"{name}.yaml", table.prompts).issues:
                issues.append(issue.as_dict() | {"flow": name})
        return issues

    def _prompt_touches(self, old: str | None, new: str) -> list[str]:
        before = PromptTable.model_validate(yaml.safe_load(old)).prompts if old else {}
        after = PromptTable.model_validate(yaml.safe_load(new)).prompts
        return prompt_touches(before, after)

    def save_prompts_draft(
        self, actor: Principal, prompts: Mapping[str, Any], base_revision: int
    ) -> Draft:
        try:
            table = PromptTable.model_validate({"prompts": dict(prompts)})
        except ValidationError as exc:
            raise InvalidDocumentError(
                "the prompt table breaks its schema; nothing was saved",
                [
                    {
                        "code": "schema",
                        "message": f"{'.'.join(map(str, e['loc']))}: {e['msg']}",
                        "params": {"loc": ".".join(map(str, e["loc"])), **value_error(e)},
                    }
                    for e in exc.errors()
                ],
            ) from exc
        edited = regulated_prompt_edits(self.prompts(), table.prompts)
        if edited and not actor.may(Permission.PROMPTS_EDIT_REGULATED):
            self.audit.denied(actor, Permission.PROMPTS_EDIT_REGULATED, f"prompts/{edited[0]}")
            raise PermissionDeniedError(actor, Permission.PROMPTS_EDIT_REGULATED)
        text = yaml.safe_dump(
            {"prompts": table.model_dump(exclude_defaults=True)["prompts"]},
            allow_unicode=True,
            sort_keys=False,
            width=100,
        )
        return self._save_draft(actor, "prompts", "prompts", text, {}, base_revision)

    # -- generic: diff, publish, approve, reject, roll back -----------------------------------

    def diff(self, kind: str, name: str) -> str:
        """Unified diff of the published version against the draft."""
        latest = self.store.latest(kind, name)
        draft = self.store.draft(kind, name)
        old = latest.content if latest else ""
        new = draft.content if draft else old
        label = f"{name} v{latest.version}" if latest else f"{name} (new)"
        return "".join(
            difflib.unified_diff(
                old.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=label,
                tofile=f"{name} draft",
            )
        )

    def publish(self, actor: Principal, kind: str, name: str, base_revision: int) -> PublishOutcome:
        """Publish the draft at ``base_revision``: now, or as a change for a second person."""
        self.publisher.sync()
        draft = self.store.draft(kind, name)
        if draft is None:
            raise NotFoundError(
                f"{kind} {name} has no draft to publish",
                code="designer.no_draft",
                params={"doc": kind, "name": name},
            )
        if draft.revision != base_revision:
            raise ConflictError(
                f"the draft is at revision {draft.revision} (saved by {draft.updated_by}), "
                f"not {base_revision}: reload before publishing",
                code="designer.draft_moved",
                params={
                    "revision": draft.revision,
                    "user": draft.updated_by,
                    "base": base_revision,
                },
            )
        return self._publish_or_submit(
            actor, kind, name, draft.content, draft.layout, draft.base_version, "publish"
        )

    def rollback(self, actor: Principal, kind: str, name: str, version: int) -> PublishOutcome:
        target = self.store.version(kind, name, version)
        latest = self.store.latest(kind, name)
        if latest is None:  # pragma: no cover - a version exists, so a latest one does
            raise NotFoundError(
                f"{kind} {name} has no version",
                code="designer.never_published",
                params={"doc": kind, "name": name},
            )
        return self._publish_or_submit(
            actor, kind, name, target.content, target.layout, latest.version, "rollback"
        )

    def _publish_or_submit(
        self,
        actor: Principal,
        kind: str,
        name: str,
        content: str,
        layout: dict[str, Any],
        base_version: int,
        source: str,
    ) -> PublishOutcome:
        rules = self._kind(kind)
        issues = rules.check(content)
        if issues:
            raise InvalidDocumentError(f"{kind} {name} does not pass its checks", issues)
        latest = self.store.latest(kind, name)
        if (latest.version if latest else 0) != base_version:
            raise ConflictError(
                f"{kind} {name} was published meanwhile (version "
                f"{latest.version if latest else 0}); your change was made on version "
                f"{base_version}: reload, redo and publish again",
                code="designer.published_meanwhile",
                params={
                    "doc": kind,
                    "name": name,
                    "latest": latest.version if latest else 0,
                    "base": base_version,
                },
            )
        touches = rules.touches(latest.content if latest else None, content)
        if rules.always_four_eyes and not touches:
            touches = [f"{kind}:{name}"]
        if touches:
            with self.audit.transaction() as conn:
                now = self.clock()
                self.audit.record_in(
                    conn,
                    AuditKind.CHANGE_SUBMITTED,
                    actor,
                    doc_kind=kind,
                    name=name,
                    base_version=base_version,
                    touches=touches,
                    source=source,
                )
                change = self.store.submit(
                    conn,
                    kind,
                    name,
                    base_version=base_version,
                    content=content,
                    layout=layout,
                    touches=touches,
                    author=actor.username,
                    now=now,
                )
            return PublishOutcome("pending", change=change)
        version = self._install(
            actor, kind, name, content, layout, base_version, source, approver=None, change=None
        )
        return PublishOutcome("published", version=version)

    def _install(
        self,
        actor: Principal,
        kind: str,
        name: str,
        content: str,
        layout: dict[str, Any],
        base_version: int,
        source: str,
        *,
        approver: Principal | None,
        change: Change | None,
        note: str = "",
    ) -> Version:
        now = self.clock()
        with self.audit.transaction() as conn:
            if change is not None and approver is not None:
                self.audit.record_in(
                    conn,
                    AuditKind.CHANGE_APPROVED,
                    approver,
                    change_id=change.id,
                    doc_kind=kind,
                    name=name,
                    author=change.author,
                    touches=change.touches,
                    note=note,
                )
                self.store.decide(conn, change.id, "approved", approver.username, note, now)
            else:
                self.audit.record_in(
                    conn,
                    AuditKind.ROLLED_BACK if source == "rollback" else AuditKind.PUBLISHED,
                    actor,
                    doc_kind=kind,
                    name=name,
                    base_version=base_version,
                )
            version = self.store.add_version(
                conn,
                kind,
                name,
                content=content,
                layout=layout,
                source=source,
                author=change.author if change else actor.username,
                approved_by=approver.username if approver else None,
                change_id=change.id if change else None,
                expected_latest=base_version,
                now=now,
            )
            draft = self.store.draft(kind, name)
            if draft is not None and draft.content == content:
                self.store.delete_draft(conn, kind, name)
            self.publisher.write(kind, name, content)  # before commit: a failed write rolls back
        return version

    def approve(self, approver: Principal, change_id: str, note: str) -> Version:
        change = self.store.change(change_id)
        if change.status != "pending":
            raise ConflictError(
                f"change {change_id} is {change.status}, not pending",
                code="designer.change_status",
                params={"change": change_id, "change_status": change.status},
            )
        if change.author == approver.username:
            self.audit.denied(approver, Permission.CHANGES_APPROVE, f"changes/{change_id}")
            raise FourEyesError("four eyes: the author of a change cannot approve it")
        issues = self._kind(change.kind).check(change.content)
        if issues:
            raise InvalidDocumentError("the change no longer passes its checks", issues)
        return self._install(
            approver,
            change.kind,
            change.name,
            change.content,
            change.layout,
            change.base_version,
            "publish",
            approver=approver,
            change=change,
            note=note,
        )

    def reject(self, approver: Principal, change_id: str, note: str) -> Change:
        change = self.store.change(change_id)
        now = self.clock()
        with self.audit.transaction() as conn:
            self.audit.record_in(
                conn,
                AuditKind.CHANGE_REJECTED,
                approver,
                change_id=change_id,
                doc_kind=change.kind,
                name=change.name,
                author=change.author,
                note=note,
            )
            self.store.decide(conn, change_id, "rejected", approver.username, note, now)
        return self.store.change(change_id)


def flow_json_of(text: str) -> dict[str, Any]:
    data = from_yaml(text)
    return data if isinstance(data, dict) else {}


__all__ = ["DesignerService", "FourEyesError", "InvalidDocumentError", "flow_json_of", "to_yaml"]
