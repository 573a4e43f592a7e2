"""The dashboard counts calls now and today (institution zone), consents, DNC changes and
queues from the evidence chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from helpers.clock import FakeClock

from console.context import ConsoleContext
from console.dashboard import Event, summarise
from console.permissions import Role
from records.evidence_store import SqlEvidenceLog

NOW = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def test_summary_counts_in_the_institution_zone() -> None:
    events = [
        Event("call_started", NOW - timedelta(minutes=5), "a"),
        Event("call_started", NOW - timedelta(minutes=50), "b"),
        Event("call_ended", NOW - timedelta(minutes=40), "b"),
        Event("call_started", NOW - timedelta(hours=10, minutes=30), "c"),  # 23:30 yesterday
        Event("call_ended", NOW - timedelta(hours=10), "c"),
        Event("consent_granted", NOW - timedelta(minutes=3), "a"),
        Event("dnc_added", NOW - timedelta(days=2), "x"),
        Event("escalated", NOW - timedelta(minutes=1), "a"),
    ]
    data = summarise(events, NOW, "Asia/Shanghai", {"dnc": 2, "quiet_hours": 1})
    assert data["calls_now"] == 1
    assert data["calls_today"] == 2
    assert {h["hour"]: h["calls"] for h in data["calls_by_hour"] if h["calls"]} == {"09": 2}
    assert data["consents_by_day"][-1] == {"day": "12-01", "granted": 1, "refused": 0, "revoked": 0}
    assert data["dnc_by_day"][-3]["added"] == 1
    assert data["gate_denials"] == [
        {"reason": "dnc", "count": 2},
        {"reason": "quiet_hours", "count": 1},
    ]
    assert data["queues"][0] == {"what": "escalated", "count": 1}


def test_dashboard_endpoint_reads_the_evidence(
    ctx: ConsoleContext,
    client: TestClient,
    clock: FakeClock,
    role_headers: dict[Role, dict[str, str]],
) -> None:
    SqlEvidenceLog(ctx.engine, clock=clock).append_entry(
        "call_started", call_id="live-1", payload={"flow": "x"}
    )
    answer = client.get("/api/v1/dashboard", headers=role_headers[Role.AGENT])
    assert answer.status_code == 200
    data = answer.json()
    assert data["calls_now"] == 1 and data["calls_today"] == 1
    assert len(data["calls_by_hour"]) == 24
