"""Work tickets written by the system and screen pops (issue 18, items 3 and 5), without a
call: the rules on finished-call reports, the SQL store with history, the Redis hand-off."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from agents_support import private_settings
from redis.asyncio import Redis

from agents.screenpop import ScreenPops, flags_for
from agents.work_tickets import WorkTickets, tickets_for
from flows.ports import CallReport, Handoff
from ivr.db import make_engine
from ivr.phone import customer_number
from records.evidence_store import SqlEvidenceLog
from records.sealed_number import NumberSealer

AT = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
NUMBER = customer_number("13912345678")


def report(**changes: object) -> CallReport:
    base: dict[str, object] = {
        "call_id": f"call-{uuid.uuid4().hex[:6]}",
        "flow": "inbound_service",
        "flow_version": "v1",
        "purpose": "service",
        "direction": "inbound",
        "customer": NUMBER,
        "ended_reason": "transferred_senior",
        "intent": "complaint",
        "escalations": (("senior", 9, "complaint_or_high_risk"),),
        "path": ("disclosure", "menu", "senior"),
        "conversation": (("bot", "您好"), ("caller", "我要投诉你们的服务")),
        "transcript_tail": "我要投诉你们的服务",
        "recording_ref": "rec-1",
        "started_at": AT,
        "ended_at": AT,
    }
    base.update(changes)
    return CallReport(**base)  # type: ignore[arg-type]


def test_complaints_risk_and_unfinished_requests_become_tickets() -> None:
    [complaint] = tickets_for(report())
    assert (complaint.kind, complaint.category, complaint.team) == (
        "complaint",
        "complaint",
        "senior",
    )
    assert (
        complaint.excerpt == "我要投诉你们的服务"
        and complaint.flow_path == "disclosure > menu > senior"
    )
    [risk] = tickets_for(report(intent="high_risk", escalations=(("senior", 9, "high_risk"),)))
    assert (risk.kind, risk.team) == ("high_risk", "senior")
    [left] = tickets_for(
        report(intent="service_request", escalations=(), ended_reason="caller_hangup")
    )
    assert (left.kind, left.team, left.outcome) == ("unfinished", "general", "caller_hangup")
    assert tickets_for(report(intent="greet", escalations=(), ended_reason="completed")) == []
    # a caller handed to a person is not an unfinished request
    assert (
        tickets_for(report(intent="ask_human", escalations=(("general", 5, "caller_request"),)))
        == []
    )


def test_flags_come_from_the_intent_or_the_reason() -> None:
    assert flags_for("senior", "complaint_or_high_risk", "complaint") == ("complaint",)
    assert flags_for("senior", "complaint_or_high_risk", "high_risk") == ("high_risk",)
    assert flags_for("senior", "high_risk", None) == ("high_risk",)
    assert flags_for("general", "caller_request", "ask_human") == ()


async def test_tickets_are_stored_once_with_their_history(tmp_path: Path) -> None:
    settings = private_settings(tmp_path)
    store = WorkTickets(make_engine(settings.sqlalchemy_url), NumberSealer.from_settings(settings))
    finished = report()
    [created] = await store.write(finished)
    assert await store.write(finished) == []  # a re-delivered report adds nothing
    assert created.masked_number == "139****5678"
    store.update(created.id, status="in_progress", actor="alice", note="calling the branch")
    done = store.update(created.id, status="resolved", actor="alice", note="refund agreed")
    assert (done.status, done.assignee) == ("resolved", "alice")
    assert [h["status"] for h in store.history(created.id)] == ["open", "in_progress", "resolved"]
    with pytest.raises(ValueError):
        store.update(created.id, status="lost", actor="alice")


async def test_screen_pop_hand_off_reaches_the_agent_stream(tmp_path: Path) -> None:
    settings = private_settings(tmp_path)
    numbers = NumberSealer.from_settings(settings)
    evidence = SqlEvidenceLog(make_engine(settings.sqlalchemy_url))
    redis = Redis.from_url("redis://127.0.0.1:6379/0")
    engine = make_engine(settings.sqlalchemy_url)
    pops = ScreenPops(
        engine, numbers, evidence, redis=redis, prefix=f"test-pops-{uuid.uuid4().hex[:8]}"
    )
    try:
        await pops.handed_off(
            Handoff(
                "call-9",
                "senior",
                9,
                "complaint_or_high_risk",
                "complaint",
                NUMBER,
                "granted",
                (("caller", "我要投诉"),),
                "inbound_service",
                ("menu", "senior"),
                AT,
            )
        )
        assert await pops.reached_agent("senior-1001@default", "unknown-call") is None
        pop = await pops.reached_agent("senior-1001@default", "call-9")
        assert pop is not None and pop.masked_number == "139****5678"
        [(first_id, data)] = await pops.read("senior-1001@default")
        assert data["flags"] == ["complaint"] and data["consent_state"] == "granted"
        assert "13912345678" not in str(data)
        assert await pops.read("senior-1001@default", after=first_id) == []
        current = pops.current("senior-1001@default")  # what a page without Redis polls
        assert current is not None and current.call_id == "call-9"
        with pytest.raises(ValueError):
            await pops.unmask("call-9", actor="alice", role="agent", reason=" ", at=AT)
        clear = await pops.unmask("call-9", actor="alice", role="agent", reason="verify", at=AT)
        assert clear == NUMBER
        revealed = [e.payload for e in evidence.entries(call_id="call-9")]
        assert [p["allowed"] for p in revealed] == [False, True]
    finally:
        await redis.aclose()
