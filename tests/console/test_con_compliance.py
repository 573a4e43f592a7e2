"""DNC, consents and the gate through the console API: numbers in bodies, masked in answers;
the actor is the signed-in user; DNC removal only by a compliance officer with a reason; every
change and every refusal is evidence."""

from __future__ import annotations

from console_support import has_clear_number
from fastapi.testclient import TestClient

from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role

NUMBER = "13812345678"


def test_dnc_add_check_list_and_removal_by_an_officer(
    ctx: ConsoleContext, client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    agent, officer = role_headers[Role.AGENT], role_headers[Role.COMPLIANCE_OFFICER]
    added = client.post("/api/v1/dnc", json={"number": NUMBER, "reason": "客户要求"}, headers=agent)
    assert added.status_code == 201 and added.json()["number"] == "138****5678"
    assert added.json()["actor"] == "agent"
    check = client.post("/api/v1/dnc/check", json={"number": "138 1234 5678"}, headers=agent)
    assert check.json()["dnc"] is True
    listed = client.get("/api/v1/dnc", headers=role_headers[Role.SUPERVISOR]).json()
    assert listed["items"][0]["number"] == "138****5678"
    refused = client.post(
        "/api/v1/dnc/remove", json={"number": NUMBER, "reason": "wrong number"}, headers=agent
    )
    assert refused.status_code == 403
    no_reason = client.post(
        "/api/v1/dnc/remove", json={"number": NUMBER, "reason": ""}, headers=officer
    )
    assert no_reason.status_code == 422
    removed = client.post(
        "/api/v1/dnc/remove", json={"number": NUMBER, "reason": "号码录入错误"}, headers=officer
    )
    assert removed.status_code == 200 and removed.json()["removed"] is True
    kinds = [(e.kind, e.payload) for e in ctx.evidence.entries()]
    assert any(k == "dnc_added" and p.get("actor") == "agent" for k, p in kinds)
    assert any(k == "dnc_removed" and p.get("actor") == "compliance_officer" for k, p in kinds)
    assert any(k == AuditKind.ACCESS_DENIED and p["permission"] == "dnc.remove" for k, p in kinds)
    for answer in (added, check, removed):
        assert not has_clear_number(answer.text)
    assert not has_clear_number(str([p for _, p in kinds]))


def test_consents_grant_list_revoke_and_gate_check(
    client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    agent = role_headers[Role.AGENT]
    granted = client.post(
        "/api/v1/consents",
        json={"number": NUMBER, "purpose": "marketing", "scope": "wealth", "channel": "branch"},
        headers=agent,
    )
    assert granted.status_code == 201, granted.text
    listed = client.post("/api/v1/consents/search", json={"number": NUMBER}, headers=agent)
    assert [c["purpose"] for c in listed.json()] == ["marketing"]
    revoked = client.post(
        "/api/v1/consents/revoke",
        json={"number": NUMBER, "purpose": "marketing", "channel": "call", "reason": "customer"},
        headers=agent,
    )
    assert revoked.json() == {"revoked": 1}
    gate = client.post(
        "/api/v1/gate/check",
        json={"number": NUMBER, "purpose": "marketing", "at": "2026-12-01T23:30:00+08:00"},
        headers=role_headers[Role.SUPERVISOR],
    )
    assert gate.status_code == 200 and gate.json()["allowed"] is False
    assert not has_clear_number(gate.text) and not has_clear_number(listed.text)
    assert (
        client.post(
            "/api/v1/gate/check", json={"number": NUMBER, "purpose": "marketing"}, headers=agent
        ).status_code
        == 403
    )
