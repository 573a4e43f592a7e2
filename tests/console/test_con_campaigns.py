"""``/api/v1/campaigns`` through FastAPI's client on the real (SQLite) console database:
create, import with per-row errors, control, detail with dispositions, masked export; each
change is evidence; the roles of the one table decide (auditor reads, designer nothing)."""

from __future__ import annotations

import csv
import io

from campaign_examples import LIST_CSV, campaign_body
from console_support import CLEAR_NUMBER, has_clear_number
from fastapi.testclient import TestClient

from console.audit import AuditKind
from console.context import ConsoleContext
from console.permissions import Role


def test_campaign_life_through_the_api(client: TestClient, ctx: ConsoleContext, role_headers):
    boss = role_headers[Role.SUPERVISOR]
    made = client.post("/api/v1/campaigns", json=campaign_body("spring-notice"), headers=boss)
    assert made.status_code == 201, made.text
    camp = made.json()
    assert (camp["state"], camp["progress"]["contacts"]) == ("draft", 0)
    assert camp["abandon_target"] == 0.03

    started = client.post(f"/api/v1/campaigns/{camp['id']}/start", headers=boss)
    assert started.status_code == 409 and "empty list" in started.json()["detail"]

    listing = LIST_CSV + f"{CLEAR_NUMBER},王五\n"
    up = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", listing.encode(), "text/csv")},
        headers=boss,
    )
    assert up.status_code == 200, up.text
    result = up.json()
    assert (result["rows"], result["accepted"], result["repeated"]) == (4, 3, False)
    (bad,) = result["errors"]
    assert (bad["row"], bad["column"], bad["code"]) == (4, "number", "list.number_invalid")
    again = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", listing.encode(), "text/csv")},
        headers=boss,
    )
    assert again.json()["repeated"] is True

    for action, state in (("start", "running"), ("pause", "paused"), ("resume", "running")):
        moved = client.post(f"/api/v1/campaigns/{camp['id']}/{action}", headers=boss)
        assert moved.status_code == 200, moved.text
        assert moved.json()["state"] == state
    bad = client.post(f"/api/v1/campaigns/{camp['id']}/resume", headers=boss)
    assert bad.status_code == 409
    stopped = client.post("/api/v1/campaigns/spring-notice/stop", headers=boss).json()
    assert stopped["state"] == "stopped"
    assert stopped["dispositions"] == {"stopped": 3}
    assert stopped["progress"] == {
        "contacts": 3, "attempts": 3, "done": 3, "open": 0, "percent": 100.0
    }  # fmt: skip

    auditor = role_headers[Role.AUDITOR]
    listed = client.get("/api/v1/campaigns", headers=auditor)
    assert [c["name"] for c in listed.json()] == ["spring-notice"]
    detail = client.get("/api/v1/campaigns/spring-notice", headers=auditor).json()
    assert detail["states"] == {"cancelled": 3}
    export = client.get(f"/api/v1/campaigns/{camp['id']}/export", headers=auditor)
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert not has_clear_number(export.text)
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert len(rows) == 3 and rows[-1]["number"].startswith("138****")

    assert (
        client.post("/api/v1/campaigns", json=campaign_body(), headers=auditor).status_code == 403
    )
    assert client.get("/api/v1/campaigns", headers=role_headers[Role.DESIGNER]).status_code == 403

    changes = [e.payload for e in ctx.evidence.entries() if e.kind == AuditKind.CAMPAIGN_CHANGED]
    assert [p["action"] for p in changes] == [
        "create", "import", "import", "start", "pause", "resume", "stop"
    ]  # fmt: skip
    assert all(p["campaign"] == camp["id"] and p["actor"] == "supervisor" for p in changes)


def test_bad_campaigns_are_refused_with_the_reason(client: TestClient, role_headers) -> None:
    boss = role_headers[Role.ADMIN]
    inbound = client.post(
        "/api/v1/campaigns", json=campaign_body(flow="inbound_service"), headers=boss
    )
    assert inbound.status_code == 422 and "not an outbound flow" in inbound.json()["detail"]
    nothing = client.post("/api/v1/campaigns", json=campaign_body(purpose="lottery"), headers=boss)
    assert nothing.status_code == 422 and "has no rules" in nothing.json()["detail"]
    night = client.post(
        "/api/v1/campaigns", json=campaign_body(windows=["23:00-23:30"]), headers=boss
    )
    assert night.status_code == 422
    assert client.get("/api/v1/campaigns/nope", headers=boss).status_code == 404
    camp = client.post("/api/v1/campaigns", json=campaign_body(), headers=boss).json()
    empty = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", b"number\n", "text/csv")},
        headers=boss,
    )
    assert empty.status_code == 422 and empty.json()["type"].endswith("#invalid_list")


def test_a_list_upload_has_its_own_32_mib_limit_and_a_bad_one_saves_nothing(
    client: TestClient, ctx: ConsoleContext, role_headers
) -> None:
    """A list may be larger than the 2 MiB every other request body is held to; past 32 MiB
    the route refuses it by name; either way nothing is imported."""
    boss = role_headers[Role.SUPERVISOR]
    camp = client.post("/api/v1/campaigns", json=campaign_body(), headers=boss).json()
    assert ctx.settings.console_max_body_bytes < 3 * 2**20
    rows = b"13912345001,red\n" * (3 * 2**20 // 16)  # 3 MiB, read by the list's own checks
    big = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", b"number,colour\n" + rows, "text/csv")},
        headers=boss,
    )
    assert big.status_code == 422, big.text[:300]
    assert big.json()["code"] == "list.unknown_columns"
    assert big.json()["params"]["columns"] == "colour"
    huge = client.post(
        f"/api/v1/campaigns/{camp['id']}/import",
        files={"file": ("list.csv", b"number\n" + b"1" * (32 * 2**20), "text/csv")},
        headers=boss,
    )
    assert huge.status_code == 413 and huge.json()["code"] == "list.too_large"
    assert huge.json()["params"] == {"max_mib": 32}
    detail = client.get(f"/api/v1/campaigns/{camp['id']}", headers=boss).json()
    assert detail["progress"]["contacts"] == 0


def test_a_refused_campaign_names_the_field_at_fault(client: TestClient, role_headers) -> None:
    boss = role_headers[Role.SUPERVISOR]

    def field_of(**changes: object) -> list[str]:
        answer = client.post("/api/v1/campaigns", json=campaign_body() | changes, headers=boss)
        assert answer.status_code == 422, answer.text
        return [e["loc"][-1] for e in answer.json()["errors"]]

    assert field_of(flow="inbound_service") == ["flow"]
    assert field_of(flow="no_such_flow") == ["flow"]
    assert field_of(purpose="lottery") == ["purpose"]
    assert field_of(windows=["23:00-23:30"]) == ["windows"]
    assert field_of(windows=["9-5"]) == ["windows"]
    assert field_of(caller_ids=["abc"]) == ["caller_ids"]
    assert field_of(start_date="2026-05-02", end_date="2026-05-01") == ["end_date"]
    assert field_of(retry_policy={"refused": {"delay_s": 1, "count": 1}}) == ["retry_policy"]
    assert field_of(max_attempts=0) == ["max_attempts"]  # pydantic's own, same shape
    client.post("/api/v1/campaigns", json=campaign_body("twice"), headers=boss)
    assert field_of(name="twice") == ["name"]


def test_the_create_form_is_offered_outbound_flows_and_purposes(
    client: TestClient, role_headers
) -> None:
    answer = client.get("/api/v1/campaign-choices", headers=role_headers[Role.AUDITOR])
    assert answer.status_code == 200, answer.text
    choices = answer.json()
    assert "outbound_notice" in choices["flows"] and "inbound_service" not in choices["flows"]
    purposes = {p["purpose"]: p["window"] for p in choices["purposes"]}
    assert purposes["marketing"] == "08:00-22:00"
    assert choices["timezone"] == "Asia/Shanghai"
