"""The dialogue actions with a real rasa_sdk Tracker and CollectingDispatcher, against the real
compliance stores (SQLite in a temporary directory) and the real evidence log."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from helpers.numbers import customer, fresh_mobile
from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import dialogue
from actions.call import time_words
from actions.disclosure import risk_warning_text
from actions.scripts import DEFAULT_PRODUCT
from actions.session import ActionSessionStart
from actions.stores import Stores, get_stores, reset_stores
from ivr.db import migrate
from ivr.phone import customer_number
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[Stores]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'ivr.db'}", redis_url=None
    )
    migrate(settings.sqlalchemy_url)
    built = Stores(settings)
    reset_stores(built)
    try:
        yield built
    finally:
        await built.close()
        reset_stores(None)


def tracker(
    intent: str,
    text: str = "",
    *,
    confidence: float = 0.99,
    entities: list[dict[str, Any]] | None = None,
    metadata: dict[str, Any] | None = None,
    **slots: Any,
) -> Tracker:
    base: dict[str, Any] = {
        "call_id": f"call-{uuid.uuid4().hex}",
        "institution": "测试银行",
        "bot_id": "AI-9",
        "purpose": "marketing",
        "campaign": "c1",
        "caller": None,
        "stage": "opening",
    }
    base.update(slots)
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "metadata": metadata or {},
    }
    return Tracker(base["call_id"], base, latest, [], False, None, {}, "action_listen")


async def run(action: Action, t: Tracker) -> tuple[list[dict[str, Any]], list[Any]]:
    """Run ``action``; a ``caller`` slot becomes the caller handle the app would have issued."""
    number = t.slots.pop("caller", None)
    if number is not None:
        handle = await get_stores().handles.issue(t.sender_id, customer_number(number))
        t.slots["caller_handle"] = handle
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, t, {})
    return [m["custom"] for m in dispatcher.messages], events


def slot(events: list[Any], name: str) -> Any:
    values = [e["value"] for e in events if isinstance(e, dict) and e.get("name") == name]
    return values[-1] if values else None


def kinds(payloads: list[dict[str, Any]]) -> list[str]:
    return [p.get("kind", p["directive"]) for p in payloads]


async def test_inv5_consent_is_recorded_before_the_pitch(stores: Stores) -> None:
    caller = fresh_mobile("137")
    t = tracker(
        "affirm",
        "嗯 可以的",
        caller=caller,
        stage="consent",
        metadata={"recording_offset_ms": 8400},
    )
    said, events = await run(dialogue.ActionAffirm(), t)
    assert kinds(said) == ["marketing", "risk_warning", "marketing"]
    assert said[0]["text"] == DEFAULT_PRODUCT.script
    assert said[1]["text"] == risk_warning_text() and said[1]["barge_in"] is False
    assert slot(events, "consent_recorded") is True
    [rec] = await stores.compliance.list_consents(customer(caller))
    assert (rec.purpose, rec.scope, rec.channel) == ("marketing", "campaign:c1", "voice_bot")
    assert rec.call_id == t.sender_id and rec.recording_offset_ms == 8400
    assert rec.transcript_excerpt is not None and "嗯 可以的" in rec.transcript_excerpt


async def test_inv5_affirm_before_the_question_asks_it(stores: Stores) -> None:
    caller = fresh_mobile("137")
    said, events = await run(dialogue.ActionAffirm(), tracker("affirm", "嗯", caller=caller))
    assert kinds(said) == ["consent"]
    assert DEFAULT_PRODUCT.name in said[0]["text"]
    assert slot(events, "stage") == "consent"
    assert await stores.compliance.list_consents(customer(caller)) == []


async def test_inv5_an_unsure_yes_is_not_consent(stores: Stores) -> None:
    caller = fresh_mobile("137")
    t = tracker("affirm", "是推销吧", confidence=0.6, caller=caller, stage="consent")
    said, _ = await run(dialogue.ActionAffirm(), t)
    assert kinds(said) == ["reply", "consent"]
    assert await stores.compliance.list_consents(customer(caller)) == []


async def test_inv5_no_caller_means_no_consent_and_no_pitch(stores: Stores) -> None:
    said, _ = await run(dialogue.ActionAffirm(), tracker("affirm", "好", stage="consent"))
    assert "marketing" not in kinds(said)
    assert said[-1] == {
        "directive": "hangup",
        "cause": "NORMAL_CLEARING",
        "outcome": "consent_unrecorded",
    }


async def test_inv5_product_question_without_consent_gets_the_question(stores: Stores) -> None:
    said, _ = await run(
        dialogue.ActionProductQuestion(),
        tracker("ask_product", caller=fresh_mobile("137"), stage="consent"),
    )
    assert kinds(said) == ["consent"]


async def test_inv5_consent_on_file_lets_the_pitch_start(stores: Stores) -> None:
    caller = fresh_mobile("137")
    await stores.compliance.grant_consent(
        customer(caller), purpose="marketing", scope="campaign:c1", channel="voice_bot"
    )
    said, _ = await run(dialogue.ActionResume(), tracker("greet", "喂", caller=caller))
    assert kinds(said) == ["marketing", "risk_warning", "marketing"]


async def test_inv6_deny_adds_dnc_durably_then_closes(stores: Stores) -> None:
    caller = fresh_mobile("137")
    t = tracker("deny", "不需要", caller=caller, stage="consent")
    said, events = await run(dialogue.ActionDeny(), t)
    entry = await stores.compliance.dnc_entry(customer(caller))
    assert entry is not None
    assert (entry.source, entry.reason, entry.call_id) == (
        "voice_bot",
        "declined_marketing",
        t.sender_id,
    )
    assert said[-1]["directive"] == "hangup"
    assert said[-1]["outcome"] == "refused" and said[-1]["dnc_recorded"] is True
    assert slot(events, "stage") == "closed"
    evidence = SqlEvidenceLog(_engine(stores))
    assert "consent_refused" in [e.kind for e in evidence.entries(call_id=t.sender_id)]


def _engine(stores: Stores) -> Any:
    sink = stores.evidence
    assert isinstance(sink, SqlEvidenceLog)
    return sink.engine


async def test_inv6_dnc_store_failure_is_reported_to_the_orchestrator(
    stores: Stores, tmp_path: Path
) -> None:
    await stores.ready()
    with sqlite3.connect(tmp_path / "ivr.db") as db:
        db.execute("DROP TABLE compliance_dnc")
    said, _ = await run(
        dialogue.ActionRefuseContact(), tracker("refuse_contact", caller=fresh_mobile("137"))
    )
    assert said[-1]["outcome"] == "refused" and said[-1]["dnc_recorded"] is False
    assert said[0]["directive"] == "say"  # still a polite close


async def test_inv6_refusal_without_a_usable_caller_number_is_chained_evidence(
    stores: Stores,
) -> None:
    t = tracker("refuse_contact", "别再打了", caller="anonymous")
    said, _ = await run(dialogue.ActionRefuseContact(), t)
    assert said[-1]["outcome"] == "refused" and "dnc_recorded" not in said[-1]  # no DNC applies
    entries = list(SqlEvidenceLog(_engine(stores)).entries(call_id=t.sender_id))
    assert [e.kind for e in entries] == ["consent_refused", "refusal_unidentified"]
    entry = entries[-1]
    assert entry.payload["reason"] == "refused_contact" and entry.payload["dnc"] is False
    assert entry.payload["policy_outcome"] == "refused" and entry.payload["rules_version"]


@pytest.mark.parametrize("handle", ["unavailable", "ch_expired-or-unknown"])
async def test_inv6_refusal_whose_caller_handle_does_not_resolve_is_left_to_the_orchestrator(
    stores: Stores, handle: str
) -> None:
    """The caller has a number the bot cannot name: no DNC entry, no unidentified-refusal
    evidence; the hangup says dnc_recorded false so the orchestrator records it."""
    t = tracker("refuse_contact", "别再打了", caller_handle=handle)
    said, _ = await run(dialogue.ActionRefuseContact(), t)
    assert said[-1]["outcome"] == "refused" and said[-1]["dnc_recorded"] is False
    kinds_written = [e.kind for e in SqlEvidenceLog(_engine(stores)).entries(call_id=t.sender_id)]
    assert "refusal_unidentified" not in kinds_written


async def test_inv5_consent_from_a_caller_whose_handle_does_not_resolve_is_not_taken(
    stores: Stores,
) -> None:
    t = tracker("affirm", "可以", caller_handle="unavailable", stage="consent")
    said, events = await run(dialogue.ActionAffirm(), t)
    assert "marketing" not in kinds(said) and slot(events, "consent_recorded") is None


async def test_service_deny_is_not_a_refusal(stores: Stores) -> None:
    caller = fresh_mobile("137")
    said, _ = await run(dialogue.ActionDeny(), tracker("deny", caller=caller, purpose="service"))
    assert said[-1]["outcome"] == "completed"
    assert not await stores.compliance.is_dnc(customer(caller))


@pytest.mark.parametrize(
    ("intent", "escalation", "expected"),
    [
        ("complaint", None, ("senior", 8, "complaint", False)),
        ("high_risk", None, ("senior", 9, "high_risk", True)),
        ("ask_human", None, ("general", 5, "ask_human", False)),
        ("ask_human", "complaint", ("senior", 8, "complaint", False)),
        ("ask_human", "high_risk", ("senior", 9, "high_risk", True)),
    ],
)
async def test_inv7_escalation_queue_and_priority(
    stores: Stores, intent: str, escalation: str | None, expected: tuple[Any, ...]
) -> None:
    t = tracker(intent, escalation=escalation)
    said, events = await run(dialogue.ActionEscalate(), t)
    move = said[-1]
    assert move["directive"] == "transfer"
    assert (move["queue"], move["priority"], move["reason"], move["flagged"]) == expected
    evidence = SqlEvidenceLog(_engine(stores))
    [entry] = [e for e in evidence.entries(call_id=t.sender_id) if e.kind == "escalated"]
    assert entry.payload["queue"] == expected[0]
    if intent != "ask_human":
        assert slot(events, "escalation") == intent


async def test_no_input_reprompts_twice_then_closes(stores: Stores) -> None:
    for count, closes in ((0, False), (1, False), (2, True)):
        said, events = await run(
            dialogue.ActionNoInput(), tracker("no_input", purpose="service", no_input_count=count)
        )
        assert (said[-1]["directive"] == "hangup") is closes
        assert slot(events, "no_input_count") == count + 1
    assert said[-1]["outcome"] == "no_input"


async def test_caller_speech_resets_the_no_input_count(stores: Stores) -> None:
    _, events = await run(
        dialogue.ActionResume(), tracker("greet", purpose="service", no_input_count=2)
    )
    assert SlotSet("no_input_count", 0.0) in events


async def test_out_of_scope_second_time_goes_to_general(stores: Stores) -> None:
    said, _ = await run(dialogue.ActionOutOfScope(), tracker("out_of_scope", purpose="service"))
    assert [p["directive"] for p in said] == ["say", "say"]
    said, _ = await run(
        dialogue.ActionOutOfScope(), tracker("out_of_scope", purpose="service", oos_count=1)
    )
    assert said[-1]["directive"] == "transfer" and said[-1]["queue"] == "general"


async def test_busy_schedules_a_callback_with_the_time_words(stores: Stores) -> None:
    entities = [
        {"entity": "time", "value": "下午三点", "start": 5, "end": 9},
        {"entity": "time", "value": "明天下午三点", "start": 3, "end": 9},
        {"entity": "time", "value": "三点", "start": 7, "end": 9},
    ]
    t = tracker("busy", "我在忙明天下午三点再打", entities=entities, caller=fresh_mobile("137"))
    said, events = await run(dialogue.ActionCallback(), t)
    assert said[1] == {"directive": "callback", "requested": "明天下午三点", "reason": "busy"}
    assert said[2]["outcome"] == "callback"
    assert slot(events, "callback_time") == "明天下午三点"
    evidence = SqlEvidenceLog(_engine(stores))
    assert "callback_scheduled" in [e.kind for e in evidence.entries(call_id=t.sender_id)]


def test_time_words_keeps_longest_non_overlapping_matches() -> None:
    entities = [
        {"entity": "time", "value": "明天", "start": 0, "end": 2},
        {"entity": "time", "value": "明天下午", "start": 0, "end": 4},
        {"entity": "time", "value": "八点", "start": 6, "end": 8},
        {"entity": "other", "value": "x", "start": 9, "end": 10},
    ]
    assert time_words(entities) == ["明天下午", "八点"]


async def test_prohibited_promise_gets_no_guarantee_without_barge_in(stores: Stores) -> None:
    said, _ = await run(
        dialogue.ActionRiskClarification(),
        tracker("prohibited_mention", caller=fresh_mobile("137")),
    )
    assert said[0]["kind"] == said[1]["kind"] == "risk_warning"
    assert not said[0]["barge_in"] and not said[1]["barge_in"]
    assert "不保本" in said[0]["text"]
    assert kinds(said)[-1] == "consent"


async def test_inv4_session_start_speaks_and_logs_the_disclosure(stores: Stores) -> None:
    call_id = f"call-{uuid.uuid4().hex}"
    meta = {"call_id": call_id, "institution": "甲银行", "bot_id": "B-1", "purpose": "service"}
    t = Tracker(call_id, {}, {"text": "", "metadata": meta}, [], False, None, {}, None)
    said, events = await run(ActionSessionStart(), t)
    assert said[0]["kind"] == "disclosure" and said[0]["barge_in"] is False
    assert "甲银行" in said[0]["text"] and "B-1" in said[0]["text"]
    assert slot(events, "stage") == "opening"
    [entry] = list(SqlEvidenceLog(_engine(stores)).entries(call_id=call_id))
    assert entry.kind == "disclosure_played" and entry.payload["bot_id"] == "B-1"


async def test_every_dialogue_action_hands_the_turn_back_to_the_caller(stores: Stores) -> None:
    _, events = await run(dialogue.ActionGoodbye(), tracker("goodbye", purpose="service"))
    assert events[-1] == {"event": "followup", "timestamp": None, "name": "action_listen"}
