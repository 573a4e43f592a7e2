"""Recordings through the API: masked search, clear numbers only for roles that may unmask
(with a reason, audited), audited playback streamed from memory; refusals are evidence."""

from __future__ import annotations

from pathlib import Path

from console_support import CLEAR_NUMBER, has_clear_number, seed_recording
from fastapi.testclient import TestClient

from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role


def test_search_is_masked_and_playback_is_audited(
    ctx: ConsoleContext, client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    rid = seed_recording(ctx)
    found = client.post(
        "/api/v1/recordings/search",
        json={"customer": "138-1234-5678", "business_type": "wealth"},
        headers=role_headers[Role.SUPERVISOR],
    )
    assert found.status_code == 200
    page = found.json()
    assert [r["recording_id"] for r in page["items"]] == [rid]
    assert page["items"][0]["customer"] == "138****5678"
    assert not has_clear_number(found.text)

    audio = client.get(
        f"/api/v1/recordings/{rid}/audio",
        params={"reason": "complaint 42"},
        headers=role_headers[Role.AUDITOR],
    )
    assert audio.status_code == 200 and audio.content.startswith(b"RIFF")
    assert audio.headers["cache-control"] == "no-store"
    log = ctx.vault.access_log(rid)
    assert log[-1]["actor_id"] == "auditor" and log[-1]["reason"] == "complaint 42"
    assert log[-1]["allowed"]
    # decrypted in memory only: no clear file appeared anywhere under the data dir
    clear = [p for p in Path(ctx.settings.data_dir).rglob("*.wav") if p.read_bytes()[:4] == b"RIFF"]
    assert clear == [], clear


def test_unmasking_needs_the_role_and_is_audited(
    ctx: ConsoleContext, client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    seed_recording(ctx)
    body = {"customer": CLEAR_NUMBER, "reveal": True, "reason": "regulator request 7"}
    refused = client.post(
        "/api/v1/recordings/search", json=body, headers=role_headers[Role.SUPERVISOR]
    )
    assert refused.status_code == 403 and not has_clear_number(refused.text)
    denied = [e for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED]
    assert denied[-1].payload["permission"] == "numbers.unmask"
    shown = client.post(
        "/api/v1/recordings/search", json=body, headers=role_headers[Role.COMPLIANCE_OFFICER]
    )
    assert shown.status_code == 200 and has_clear_number(shown.text)
    reveals = [
        e.payload for e in ctx.evidence.entries() if e.payload.get("action") == "reveal_numbers"
    ]
    assert reveals[-1]["reason"] == "regulator request 7" and reveals[-1]["allowed"]
    assert reveals[-1]["actor"] == "compliance_officer"
    assert not has_clear_number(str([e.payload for e in ctx.evidence.entries()]))


def test_an_agent_is_refused_recordings_and_the_refusal_is_evidence(
    ctx: ConsoleContext, client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    rid = seed_recording(ctx)
    agent = role_headers[Role.AGENT]
    assert client.post("/api/v1/recordings/search", json={}, headers=agent).status_code == 403
    played = client.get(f"/api/v1/recordings/{rid}/audio", params={"reason": "x"}, headers=agent)
    assert played.status_code == 403
    denied = [e.payload for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED]
    assert [d["permission"] for d in denied[-2:]] == ["recordings.search", "recordings.play"]
    assert all(d["actor"] == "agent" for d in denied[-2:])


def test_search_by_disposition(
    ctx: ConsoleContext, client: TestClient, role_headers: dict[Role, dict[str, str]]
) -> None:
    done = seed_recording(ctx, "call-done")
    refused = seed_recording(ctx, "call-refused", disposition="refused")
    legacy = seed_recording(ctx, "call-legacy", disposition=None)  # sealed before dispositions

    def search(**body: object) -> list[str]:
        answer = client.post(
            "/api/v1/recordings/search", json=body, headers=role_headers[Role.SUPERVISOR]
        )
        assert answer.status_code == 200, answer.text
        return sorted(r["recording_id"] for r in answer.json()["items"])

    assert search(disposition="refused") == [refused]
    assert search(disposition="completed", campaign="spring") == [done]
    assert search() == sorted([done, refused, legacy])
    [item] = client.post(
        "/api/v1/recordings/search",
        json={"call_id": "call-refused"},
        headers=role_headers[Role.SUPERVISOR],
    ).json()["items"]
    assert item["disposition"] == "refused"
