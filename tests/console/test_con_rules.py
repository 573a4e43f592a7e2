"""Rules through the console: versions, a draft validated by the compliance rules parser, diff,
every change approved by a second compliance officer (evidence), and reload."""

from __future__ import annotations

import json

import pytest
import yaml
from console_support import add_user, bearer
from fastapi.testclient import TestClient

from compliance.reload import load_rules_file
from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role
from ivr.settings import REPO_ROOT


@pytest.fixture
def officers(ctx: ConsoleContext, client: TestClient) -> dict[str, dict[str, str]]:
    add_user(ctx, "olga", Role.COMPLIANCE_OFFICER)
    add_user(ctx, "omar", Role.COMPLIANCE_OFFICER)
    add_user(ctx, "dora", Role.DESIGNER)
    return {n: bearer(client, n) for n in ("olga", "omar", "dora")}


def bumped(ctx: ConsoleContext) -> tuple[str, str]:
    text = ctx.settings.rules_path.read_text(encoding="utf-8")
    old = str(yaml.safe_load(text)["version"])
    return text.replace(old, f"{old}-b", 1).replace("daily_cap: 3", "daily_cap: 2", 1), f"{old}-b"


def test_a_rules_change_needs_a_second_officer_and_is_installed(
    ctx: ConsoleContext, client: TestClient, officers: dict[str, dict[str, str]]
) -> None:
    shown = client.get("/api/v1/rules", headers=officers["olga"]).json()
    assert shown["published"]["version"] == 1 and shown["rules_version"]
    text, version = bumped(ctx)
    saved = client.put(
        "/api/v1/rules/draft", json={"content": text, "base_revision": 0}, headers=officers["olga"]
    )
    assert saved.status_code == 200 and saved.json()["issues"] == []
    assert (
        "daily_cap: 2" in client.get("/api/v1/rules/diff", headers=officers["olga"]).json()["diff"]
    )
    pending = client.post(
        "/api/v1/rules/publish", json={"base_revision": 1}, headers=officers["olga"]
    )
    assert pending.status_code == 202
    change = pending.json()["change"]["id"]
    own = client.post(f"/api/v1/changes/{change}/approve", json={}, headers=officers["olga"])
    assert own.status_code == 403
    ok = client.post(
        f"/api/v1/changes/{change}/approve", json={"note": "ok"}, headers=officers["omar"]
    )
    assert ok.status_code == 200
    assert load_rules_file(ctx.settings.rules_path).rules.version == version
    approved = [e.payload for e in ctx.evidence.entries() if e.kind == AuditKind.CHANGE_APPROVED]
    assert approved[-1]["actor"] == "omar" and approved[-1]["author"] == "olga"


def test_bad_rules_are_reported_with_lines_and_cannot_be_submitted(
    ctx: ConsoleContext, client: TestClient, officers: dict[str, dict[str, str]]
) -> None:
    broken = client.post(
        "/api/v1/rules/check",
        json={"content": "version: x\npurposes: [\n"},
        headers=officers["olga"],
    ).json()
    assert not broken["ok"] and broken["issues"][0]["line"] >= 1
    same_version = ctx.settings.rules_path.read_text(encoding="utf-8").replace(
        "daily_cap: 3", "daily_cap: 2", 1
    )
    issues = client.post(
        "/api/v1/rules/check", json={"content": same_version}, headers=officers["olga"]
    ).json()["issues"]
    assert [i["code"] for i in issues] == ["version"]
    client.put(
        "/api/v1/rules/draft",
        json={"content": same_version, "base_revision": 0},
        headers=officers["olga"],
    )
    refused = client.post(
        "/api/v1/rules/publish", json={"base_revision": 1}, headers=officers["olga"]
    )
    assert refused.status_code == 422
    before = ctx.settings.rules_path.read_text(encoding="utf-8")
    assert "daily_cap: 3" in before  # nothing installed


def test_a_designer_cannot_edit_rules_and_reload_is_evidence(
    ctx: ConsoleContext, client: TestClient, officers: dict[str, dict[str, str]]
) -> None:
    text, _ = bumped(ctx)
    refused = client.put(
        "/api/v1/rules/draft", json={"content": text, "base_revision": 0}, headers=officers["dora"]
    )
    assert refused.status_code == 403
    reloaded = client.post("/api/v1/rules/reload", headers=officers["olga"])
    assert reloaded.status_code == 200
    assert AuditKind.RULES_RELOAD_REQUESTED in [e.kind for e in ctx.evidence.entries()]


def test_the_parsers_explanations_carry_codes_the_catalogue_translates(
    ctx: ConsoleContext, client: TestClient, officers: dict[str, dict[str, str]]
) -> None:
    """The rules parser's own explanations reach the console as message codes with their
    parameters (a validator's rules.*, pydantic's value.*), not as English inside zh-CN."""
    data = yaml.safe_load(ctx.settings.rules_path.read_text(encoding="utf-8"))
    data["version"] = "coded-1"
    purpose = next(iter(data["purposes"]))
    data["purposes"][purpose]["window"] = {"start": "18:00", "end": "09:00"}
    data["purposes"][purpose]["daily_cap"] = 500
    data["overrides"] = [
        {"name": "sh", "match": {"e164_prefixes": ["8621"]}, "purposes": [purpose]}
    ]
    issues = client.post(
        "/api/v1/rules/check", json={"content": yaml.safe_dump(data)}, headers=officers["olga"]
    ).json()["issues"]
    by_field = {i["params"]["field"]: i for i in issues}
    window = by_field[f"purposes.{purpose}.window"]
    assert window["code"] == "rules" and window["params"]["error_code"] == "rules.window_order"
    assert window["line"] > 1 and "wrap midnight" in window["params"]["why"]
    cap = by_field[f"purposes.{purpose}.daily_cap"]["params"]
    assert cap["error_code"] == "value.less_than_equal" and cap["le"] == 100
    prefix = by_field["overrides.0.match.e164_prefixes"]["params"]
    assert prefix["error_code"] == "rules.prefix_format" and prefix["prefix"] == "'8621'"
    catalogue = json.loads((REPO_ROOT / "console/web/src/messages.json").read_text("utf-8"))
    for issue in issues:
        code = issue["params"]["error_code"]
        assert code in catalogue["zh-CN"] and code in catalogue["en"], code
    syntax = client.post(
        "/api/v1/rules/check",
        json={"content": "version: x\npurposes: [\n"},
        headers=officers["olga"],
    ).json()["issues"]
    assert syntax[0]["params"]["error_code"] == "rules.yaml_syntax"
