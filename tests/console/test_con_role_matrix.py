"""Every endpoint × every role, allowed and denied, against the one permission table.

Each API route declares one permission (``console.api.deps.require``) or is listed here as
public / signed-in-only; a route without an example request fails the test, so no route can
skip the matrix. An allowed role gets a 2xx answer, a denied one 403 and evidence of it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from campaign_examples import CAMPAIGN_EXAMPLES
from console_support import (
    CLEAR_NUMBER,
    PASSWORD,
    has_clear_number,
    promo_flow,
    seed_qa_result,
    seed_recording,
)
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from floor_examples import FLOOR_EXAMPLES

from console.api.deps import permission_of
from console.audit import AuditKind
from console.context import ConsoleContext
from console.identity import Principal
from console.permissions import TABLE, Permission, Role

PUBLIC = {
    ("GET", "/healthz"),
    ("GET", "/api/v1/meta"),
    ("POST", "/api/v1/auth/login"),
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/demo/crm/risk"),
}
SIGNED_IN = {("GET", "/api/v1/auth/me"), ("POST", "/api/v1/auth/logout"), ("GET", "/api/v1/roles")}

Request = dict[str, Any]
SCOPES = itertools.count()
AUTHOR = Principal("author-id", "author", Role.COMPLIANCE_OFFICER, "system")


def notice_draft(ctx: ConsoleContext) -> int:
    """A draft of outbound_notice (an ordinary change); returns its revision."""
    latest = ctx.designer.store.latest("flow", "outbound_notice")
    if latest is None:
        ctx.designer.publisher.sync()
        latest = ctx.designer.store.latest("flow", "outbound_notice")
    assert latest is not None
    flow = yaml.safe_load(latest.content)
    flow["nodes"]["notice"]["timeout_s"] = 5 + latest.version
    current = ctx.designer.store.draft("flow", "outbound_notice")
    draft, _ = ctx.designer.save_flow_draft(
        AUTHOR, "outbound_notice", flow, {}, current.revision if current else 0
    )
    return draft.revision


def prompts_draft(ctx: ConsoleContext) -> int:
    table = dict(ctx.designer.prompts())
    current = ctx.designer.store.draft("prompts", "prompts")
    edited = {k: v.model_dump(exclude_defaults=True) for k, v in table.items()}
    edited["goodbye"]["text"] = f"再见 {current.revision if current else 0}"
    return ctx.designer.save_prompts_draft(
        AUTHOR, edited, current.revision if current else 0
    ).revision


def pending_change(ctx: ConsoleContext) -> str:
    """A change of wealth_promo's consent node (so it waits for four eyes), by AUTHOR."""
    current = ctx.designer.store.draft("flow", "wealth_promo")
    flow = promo_flow(pitch_first=False)
    flow["nodes"]["consent"]["scope"] = f"intro_{next(SCOPES)}"  # type: ignore[index]
    ctx.designer.save_flow_draft(
        AUTHOR, "wealth_promo", flow, {}, current.revision if current else 0
    )
    draft = ctx.designer.store.draft("flow", "wealth_promo")
    assert draft is not None
    outcome = ctx.designer.publish(AUTHOR, "flow", "wealth_promo", draft.revision)
    assert outcome.change is not None
    return outcome.change.id


def rules_text(ctx: ConsoleContext, tag: str) -> str:
    """The shipped rules with a new version string."""
    text = ctx.settings.rules_path.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    return text.replace(str(data["version"]), f"{data['version']}-{tag}", 1)


def rules_draft(ctx: ConsoleContext, tag: str) -> int:
    current = ctx.designer.store.draft("rules", "default")
    revision = current.revision if current else 0
    return ctx.designer.save_text_draft(
        AUTHOR, "rules", "default", rules_text(ctx, tag), revision
    ).revision


def rules_version_1(ctx: ConsoleContext) -> int:
    ctx.designer.publisher.sync()
    return 1


def qa_call(ctx: ConsoleContext, call_id: str) -> str:
    seed_qa_result(ctx, call_id)
    return call_id


def qa_job(ctx: ConsoleContext) -> str:
    """An (empty) batch job's id."""
    start = datetime(2019, 1, 1, tzinfo=UTC)
    return ctx.qa.jobs.open(start, start + timedelta(days=1)).job_id


def draft_revision(ctx: ConsoleContext, kind: str, name: str) -> int:
    current = ctx.designer.store.draft(kind, name)
    return current.revision if current else 0


# (method, route path) -> a valid request for a caller of ``role`` (unique names per role)
EXAMPLES: dict[tuple[str, str], Callable[[Role, ConsoleContext], Request]] = {
    ("GET", "/api/v1/users"): lambda r, c: {},
    ("POST", "/api/v1/users"): lambda r, c: {
        "json": {"username": f"new-{r.value}", "role": "agent", "password": PASSWORD}
    },
    ("PATCH", "/api/v1/users/{username}"): lambda r, c: {
        "path": {"username": "agent"},
        "json": {"disabled": False},
    },
    ("GET", "/api/v1/flow-schema"): lambda r, c: {},
    ("GET", "/api/v1/flows"): lambda r, c: {},
    ("GET", "/api/v1/flows/{name}"): lambda r, c: {"path": {"name": "outbound_notice"}},
    ("POST", "/api/v1/flows/check"): lambda r, c: {"json": {"flow": promo_flow(pitch_first=True)}},
    ("PUT", "/api/v1/flows/{name}/draft"): lambda r, c: {
        "path": {"name": "wealth_promo"},
        "json": {
            "flow": promo_flow(pitch_first=False),
            "base_revision": draft_revision(c, "flow", "wealth_promo"),
        },
    },
    ("GET", "/api/v1/flows/{name}/diff"): lambda r, c: {"path": {"name": "outbound_notice"}},
    ("GET", "/api/v1/flows/{name}/versions"): lambda r, c: {"path": {"name": "outbound_notice"}},
    ("POST", "/api/v1/flows/{name}/publish"): lambda r, c: {
        "path": {"name": "outbound_notice"},
        "json": {"base_revision": notice_draft(c)},
    },
    ("POST", "/api/v1/flows/{name}/rollback"): lambda r, c: {
        "path": {"name": "outbound_notice"},
        "json": {"version": 1},
    },
    ("POST", "/api/v1/flows/{name}/simulate"): lambda r, c: {
        "path": {"name": "outbound_notice"},
        "json": {"source": "published", "turns": [{"kind": "hangup"}]},
    },
    ("GET", "/api/v1/simulations/{simulation_id}/audio/{line}"): lambda r, c: {
        "path": {"simulation_id": c.simulations.put({0: b"RIFF"}), "line": 0}
    },
    ("GET", "/api/v1/prompts"): lambda r, c: {},
    ("PUT", "/api/v1/prompts/draft"): lambda r, c: {
        "json": {
            "prompts": {
                k: v.model_dump(exclude_defaults=True) for k, v in c.designer.prompts().items()
            },
            "base_revision": draft_revision(c, "prompts", "prompts"),
        }
    },
    ("POST", "/api/v1/prompts/publish"): lambda r, c: {"json": {"base_revision": prompts_draft(c)}},
    ("GET", "/api/v1/changes"): lambda r, c: {},
    ("POST", "/api/v1/recordings/search"): lambda r, c: {
        "json": {"customer": CLEAR_NUMBER, "reveal": r is Role.COMPLIANCE_OFFICER, "reason": "x"}
    },
    ("GET", "/api/v1/recordings/{recording_id}"): lambda r, c: {
        "path": {"recording_id": seed_recording(c, f"get-{r.value}")}
    },
    ("GET", "/api/v1/recordings/{recording_id}/audio"): lambda r, c: {
        "path": {"recording_id": seed_recording(c, f"play-{r.value}")},
        "params": {"reason": "complaint"},
    },
    ("POST", "/api/v1/recordings/{recording_id}/export"): lambda r, c: {
        "path": {"recording_id": seed_recording(c, f"export-{r.value}")},
        "json": {"reason": "regulator"},
    },
    ("GET", "/api/v1/recordings/{recording_id}/access-log"): lambda r, c: {
        "path": {"recording_id": seed_recording(c, f"log-{r.value}")}
    },
    ("POST", "/api/v1/recordings/purge"): lambda r, c: {},
    ("POST", "/api/v1/recordings/rewrap"): lambda r, c: {},
    ("GET", "/api/v1/evidence"): lambda r, c: {},
    ("GET", "/api/v1/dashboard"): lambda r, c: {},
    ("POST", "/api/v1/dnc/check"): lambda r, c: {"json": {"number": CLEAR_NUMBER}},
    ("POST", "/api/v1/dnc"): lambda r, c: {"json": {"number": CLEAR_NUMBER, "reason": "asked"}},
    ("POST", "/api/v1/dnc/remove"): lambda r, c: {
        "json": {"number": CLEAR_NUMBER, "reason": "entered by mistake"}
    },
    ("GET", "/api/v1/dnc"): lambda r, c: {},
    ("POST", "/api/v1/consents/search"): lambda r, c: {"json": {"number": CLEAR_NUMBER}},
    ("POST", "/api/v1/consents"): lambda r, c: {
        "json": {"number": CLEAR_NUMBER, "purpose": "marketing", "scope": "s", "channel": "branch"}
    },
    ("POST", "/api/v1/consents/revoke"): lambda r, c: {
        "json": {"number": CLEAR_NUMBER, "purpose": "marketing", "channel": "call", "reason": "x"}
    },
    ("POST", "/api/v1/gate/check"): lambda r, c: {
        "json": {"number": CLEAR_NUMBER, "purpose": "service"}
    },
    ("GET", "/api/v1/rules"): lambda r, c: {},
    ("POST", "/api/v1/rules/check"): lambda r, c: {"json": {"content": rules_text(c, "x")}},
    ("PUT", "/api/v1/rules/draft"): lambda r, c: {
        "json": {
            "content": rules_text(c, r.value),
            "base_revision": draft_revision(c, "rules", "default"),
        }
    },
    ("GET", "/api/v1/rules/diff"): lambda r, c: {},
    ("GET", "/api/v1/rules/versions"): lambda r, c: {},
    ("POST", "/api/v1/rules/publish"): lambda r, c: {
        "json": {"base_revision": rules_draft(c, r.value)}
    },
    ("POST", "/api/v1/rules/rollback"): lambda r, c: {"json": {"version": rules_version_1(c)}},
    ("POST", "/api/v1/rules/reload"): lambda r, c: {},
    ("GET", "/api/v1/evidence/verify"): lambda r, c: {},
    ("POST", "/api/v1/evidence/checkpoint"): lambda r, c: {},
    ("GET", "/api/v1/qa/results"): lambda r, c: {"params": {"passed": "false"}},
    ("GET", "/api/v1/qa/calls/{call_id}"): lambda r, c: {
        "path": {"call_id": qa_call(c, f"qa-{r.value}")}
    },
    ("GET", "/api/v1/qa/alerts"): lambda r, c: {"params": {"wait_ms": 0}},
    ("GET", "/api/v1/qa/report"): lambda r, c: {
        "params": {"start": "2026-11-30", "end": "2026-12-01", "format": "html"}
    },
    ("POST", "/api/v1/qa/batch"): lambda r, c: {
        "json": {"started_from": "2020-01-01T00:00:00Z", "started_to": "2020-01-02T00:00:00Z"}
    },
    ("GET", "/api/v1/qa/batch"): lambda r, c: {},
    ("POST", "/api/v1/qa/check"): lambda r, c: {"json": {"text": "这款产品是保本的"}},
    ("GET", "/api/v1/qa/rules"): lambda r, c: {},
    ("POST", "/api/v1/qa/rules/check"): lambda r, c: {"json": {"content": "version: x"}},
    ("GET", "/api/v1/qa/batch/{job_id}"): lambda r, c: {"path": {"job_id": qa_job(c)}},
    ("GET", "/api/v1/changes/{change_id}"): lambda r, c: {"path": {"change_id": pending_change(c)}},
    ("POST", "/api/v1/changes/{change_id}/approve"): lambda r, c: {
        "path": {"change_id": pending_change(c)},
        "json": {"note": "ok"},
    },
    ("POST", "/api/v1/changes/{change_id}/reject"): lambda r, c: {
        "path": {"change_id": pending_change(c)},
        "json": {"note": "no"},
    },
    **FLOOR_EXAMPLES,
    **CAMPAIGN_EXAMPLES,
}


def api_routes(routes: list[Any], prefix: str = "") -> list[tuple[str, APIRoute]]:
    """Every APIRoute with its full path, through included routers (FastAPI >= 0.16x keeps
    an included router as one entry)."""
    found: list[tuple[str, APIRoute]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, route))
        elif hasattr(route, "original_router"):
            found += api_routes(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def route_permissions(client: TestClient) -> dict[tuple[str, str], Permission | None]:
    found: dict[tuple[str, str], Permission | None] = {}
    routes = api_routes(client.app.routes)  # type: ignore[attr-defined]
    assert len(routes) > 45, "the matrix must see every route"
    for path, route in routes:
        calls = [d.call for d in route.dependant.dependencies if d.call is not None]
        perms = {permission_of(call) for call in calls} - {None}
        assert len(perms) <= 1, f"{path} declares several permissions"
        for method in route.methods or ():
            found[(method, path)] = next(iter(perms), None)
    return found


def test_every_route_declares_a_permission_or_is_listed(client: TestClient) -> None:
    for key, permission in route_permissions(client).items():
        if permission is None:
            assert key in PUBLIC | SIGNED_IN, f"{key} has no permission and is not listed"
        else:
            assert key in EXAMPLES, f"{key} has no example request in the role matrix"


def test_unauthenticated_callers_get_401_on_every_guarded_route(
    client: TestClient, ctx: ConsoleContext
) -> None:
    for (method, path), permission in route_permissions(client).items():
        if permission is None and (method, path) in PUBLIC:
            continue
        req = EXAMPLES.get((method, path), lambda r, c: {})(Role.ADMIN, ctx)
        url = path.format(**req.get("path", {}))
        answer = client.request(
            method, url, json=req.get("json"), params=req.get("params"), files=req.get("files")
        )
        assert answer.status_code == 401, (method, path)
        assert answer.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("role", list(Role))
def test_role_matrix(
    role: Role,
    client: TestClient,
    ctx: ConsoleContext,
    role_headers: dict[Role, dict[str, str]],
) -> None:
    headers = role_headers[role]
    for (method, path), permission in sorted(route_permissions(client).items()):
        if permission is None:
            continue
        req = EXAMPLES[(method, path)](role, ctx)
        url = path.format(**req.get("path", {}))
        before = sum(1 for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED)
        answer = client.request(
            method,
            url,
            json=req.get("json"),
            params=req.get("params"),
            files=req.get("files"),
            headers=headers,
        )
        after = sum(1 for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED)
        if has_clear_number(answer.text):  # only revealed by a role that may, and audited
            unmasks = {Permission.NUMBERS_UNMASK, Permission.CALLER_UNMASK}
            assert unmasks & TABLE[role], (role, method, path)
            assert any(e.payload.get("action") == "reveal_numbers" for e in ctx.evidence.entries())
        if permission in TABLE[role]:
            assert answer.status_code < 300, (role, method, path, answer.text)
            assert after == before
        else:
            assert answer.status_code == 403, (role, method, path, answer.text)
            assert after == before + 1, "a refusal is evidence"


def test_a_campaign_manager_runs_campaigns_and_reads_only_what_that_needs() -> None:
    rights = TABLE[Role.CAMPAIGN_MANAGER]
    assert rights == {
        Permission.DASHBOARD_VIEW,
        Permission.CAMPAIGNS_READ,
        Permission.CAMPAIGNS_MANAGE,
        Permission.DNC_CHECK,
    }
    assert not {p for p in rights if p.startswith(("recordings.", "numbers.", "calls."))}


def test_the_readme_roles_table_is_the_permission_table() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    documented = {}
    for line in readme.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].strip("`") in {r.value for r in Role}:
            documented[Role(cells[0].strip("`"))] = {p.strip(" `") for p in cells[2].split(",")}
    assert documented == {role: {p.value for p in perms} for role, perms in TABLE.items()}
