"""Both channels read a caller's answer the same way (one consent/refusal policy, inv5, inv6).

The same answers at the consent question go through the real flow engine (the shipped
``outbound_marketing`` flow on the FreeSWITCH simulator, with a scripted NLU result per
utterance) and through the real Rasa actions (the action ``bot/data/rules.yml`` maps the intent
to, with a real tracker); both run on the real compliance stores and evidence log with the
shipped rules. For every row both channels must do what the policy decided: record consent
(and only then speak marketing), record a refusal (DNC, or refusal evidence for a caller with no
usable number), or ask again / confirm, never taking an unclear answer as consent.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import dialogue, scripts
from actions.dialogue import BotAction
from actions.stores import Stores, reset_stores
from bot.client import CallMetadata
from bot.directives import Directive, Hangup
from campaigns.callbacks import TicketOutcome
from compliance.consent_policy import (
    AnswerContext,
    CallerAnswer,
    Confirm,
    NluResult,
    Outcome,
    Question,
    decide_answer,
)
from compliance.reload import load_rules_file
from flows.adapters import SidecarListener
from flows.orchestrator import CallDeps, CallOrchestrator, OrchestratorConfig
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.db import make_engine, migrate
from ivr.phone import CustomerNumber, customer_number
from ivr.settings import REPO_ROOT, Settings
from qa.call_port import QaOff
from records.evidence_store import SqlEvidenceLog
from speech.audio import Audio, write_wav
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, SimulatedCall, Turn

NUMBER = "13912345678"
DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
GRANTED, REFUSED, ASKED_AGAIN, NO_CONSENT = "granted", "refused", "asked again", "no consent"
EFFECT = {
    Outcome.CONSENT_GRANTED: GRANTED,
    Outcome.REFUSED: REFUSED,
    Outcome.NEEDS_CONFIRMATION: ASKED_AGAIN,
    Outcome.NOT_AN_ANSWER: ASKED_AGAIN,
    Outcome.CONSENT_UNRECORDABLE: NO_CONSENT,
}


@dataclass(frozen=True)
class Row:
    intent: str
    confidence: float
    outcome: Outcome
    confirm: Confirm | None = None
    caller: str = NUMBER


TABLE = [
    Row("affirm", 0.97, Outcome.CONSENT_GRANTED),
    Row("affirm", 0.70, Outcome.CONSENT_GRANTED),
    Row("affirm", 0.69, Outcome.NEEDS_CONFIRMATION, Confirm.CONSENT),  # unsure: never consent
    Row("affirm", 0.35, Outcome.NEEDS_CONFIRMATION, Confirm.CONSENT),
    Row("deny", 0.93, Outcome.REFUSED),
    Row("deny", 0.42, Outcome.NEEDS_CONFIRMATION, Confirm.REFUSAL),  # "您是说不需要了，对吗？"
    Row("refuse_contact", 0.88, Outcome.REFUSED),
    Row("refuse_contact", 0.31, Outcome.NEEDS_CONFIRMATION, Confirm.REFUSAL),
    Row("nlu_fallback", 0.30, Outcome.NEEDS_CONFIRMATION, Confirm.CONSENT),
    Row("ask_repeat", 0.91, Outcome.NOT_AN_ANSWER),
    Row("affirm", 0.97, Outcome.CONSENT_UNRECORDABLE, caller="anonymous"),
    Row("refuse_contact", 0.95, Outcome.REFUSED, caller="anonymous"),
]


def row_id(row: Row) -> str:
    return f"{row.intent}@{row.confidence}" + ("-withheld" if row.caller != NUMBER else "")


# ---- the flow engine ----


class ScriptedNlu:
    """The NLU result of each scripted utterance (the utterance text names its row)."""

    def __init__(self) -> None:
        self.results: dict[str, NluResult] = {}

    async def parse(self, text: str) -> NluResult:
        return self.results[text]


@dataclass
class SilentPrompts:
    """Prompt text -> a short silent WAV; remembers what was spoken, in order."""

    spoken: list[str] = field(default_factory=list)

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path:
        self.spoken.append(text)
        path = scratch / f"p-{hashlib.sha256(text.encode()).hexdigest()[:12]}.wav"
        if not path.exists():
            write_wav(path, Audio.silence(0.2))
        return path


class HangupBot:
    """After consent the shipped flow hands over to the bot: it says goodbye at once."""

    async def caller_handle(self, call_id: str, customer: CustomerNumber | None) -> str | None:
        return None

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]:
        return [Hangup(outcome="completed")]


class NoWebhooks:
    async def call(
        self, method: str, url: str, body: Mapping[str, Any], timeout_s: float
    ) -> Mapping[str, Any]:
        raise AssertionError("the marketing flow calls no webhook")


class NoTickets:
    """No callback in these calls: nobody opens a ticket."""

    async def open(
        self, *, call_id: str, number: str | None, queue: str, reason: str, now: datetime
    ) -> TicketOutcome:
        raise AssertionError("no callback ticket in the consent-channel calls")


@dataclass
class Channels:
    stores: Stores
    deps: CallDeps
    nlu: ScriptedNlu
    prompts: SilentPrompts
    evidence: SqlEvidenceLog


@pytest.fixture
async def channels(tmp_path: Path) -> AsyncIterator[Channels]:
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'ivr.db'}", redis_url=None
    )
    migrate(settings.sqlalchemy_url)
    stores = Stores(settings)  # the action server's composition root
    reset_stores(stores)
    compliance = await stores.ready()
    nlu, prompts = ScriptedNlu(), SilentPrompts()
    evidence = SqlEvidenceLog(make_engine(settings.sqlalchemy_url))
    deps = CallDeps(
        registry=FlowRegistry(DEFAULT_FLOWS_DIR),
        prompts=prompts,
        listener=SidecarListener(None),
        nlu=nlu,
        bot=HangupBot(),
        compliance=compliance,
        evidence=evidence,
        webhooks=NoWebhooks(),
        tickets=NoTickets(),
        recordings=None,
        config=OrchestratorConfig(institution="测试银行", bot_id="AI-7", work_dir=tmp_path / "w"),
        qa=QaOff(),  # consent channels, not speech quality, are under test here
        clock=lambda: DAYTIME,
    )
    yield Channels(stores, deps, nlu, prompts, evidence)
    await stores.close()
    reset_stores(None)
    evidence.engine.dispose()


def consent_question_text(deps: CallDeps) -> str:
    flow = deps.registry.get("outbound_marketing")
    text = flow.prompts["consent_question"].text
    assert text is not None
    return text.split("{")[0]  # the fixed part before any variable


async def flow_engine(ch: Channels, row: Row) -> tuple[str, bool]:
    """(effect, whether marketing was spoken) of the answer on a real simulated call."""
    utterance = f"row-{uuid.uuid4().hex[:8]}"
    ch.nlu.results[utterance] = NluResult(row.intent, row.confidence)
    return await flow_call(ch, Turn.say(transcript=utterance), row.caller)


async def flow_call(ch: Channels, turn: Turn, caller: str) -> tuple[str, bool]:
    ch.prompts.spoken.clear()
    server = OutboundServer(CallOrchestrator(ch.deps), ch.evidence, ServerConfig())
    host, port = await server.start("127.0.0.1", 0)
    sim = SimulatedCall(
        CallerScript(caller="95588", destination=NUMBER, turns=(turn,)),
        time_scale=0,
        write_requested_paths=True,
    )
    sim.channel.variables["ivr_flow"] = "outbound_marketing"
    sim.channel.variables["ivr_customer_number"] = caller
    result = await sim.run(host, port, deadline_s=60)
    await server.wait_idle()
    await server.close()
    kinds = [e.kind for e in ch.evidence.entries(call_id=result.uuid)]
    flow = ch.deps.registry.get("outbound_marketing")
    marketing = {p.text for p in flow.prompts.values() if p.marketing and p.text}
    spoke_marketing = any(any(m.split("{")[0] in t for m in marketing) for t in ch.prompts.spoken)
    asked = sum(consent_question_text(ch.deps) in t for t in ch.prompts.spoken)
    if "consent_granted" in kinds:
        return GRANTED, spoke_marketing
    if "consent_refused" in kinds and ({"dnc_added", "refusal_unidentified"} & set(kinds)):
        return REFUSED, spoke_marketing
    return (ASKED_AGAIN if asked >= 2 else NO_CONSENT), spoke_marketing


# ---- the Rasa actions ----


def action_for(intent: str) -> Action:
    """The action ``bot/data/rules.yml`` runs for the intent."""
    rules = yaml.safe_load((REPO_ROOT / "bot" / "data" / "rules.yml").read_text(encoding="utf-8"))
    for rule in rules["rules"]:
        steps = rule["steps"]
        if steps[0].get("intent") == intent:
            name = steps[1]["action"]
            for cls in vars(dialogue).values():
                if isinstance(cls, type) and issubclass(cls, BotAction) and cls is not BotAction:
                    action: Action = cls()
                    if action.name() == name:
                        return action
    raise AssertionError(f"no rule for {intent}")


async def rasa_actions(ch: Channels, row: Row) -> tuple[str, bool]:
    """(effect, whether marketing was spoken) of the same answer in the bot, at its consent
    stage (the consent question was just asked)."""
    call_id = f"call-{uuid.uuid4().hex}"
    # the bot knows the caller only by the handle the app issued for this call
    handle = await ch.stores.handles.issue(call_id, customer_number(row.caller))
    slots = {
        "call_id": call_id,
        "institution": "测试银行",
        "bot_id": "AI-7",
        "purpose": "marketing",
        "campaign": "c1",
        "caller_handle": handle,
        "stage": "consent",
    }
    latest = {
        "text": "(scripted)",
        "intent": {"name": row.intent, "confidence": row.confidence},
        "entities": [],
        "metadata": {},
    }
    tracker = Tracker(call_id, slots, latest, [], False, None, {}, "action_listen")
    dispatcher = CollectingDispatcher()
    events = await action_for(row.intent).run(dispatcher, tracker, {})
    said = [m["custom"] for m in dispatcher.messages]
    spoke_marketing = any(p.get("kind") == "marketing" for p in said)
    consent = any(e.get("name") == "consent_recorded" and e.get("value") for e in events)
    hangups = [p for p in said if p["directive"] == "hangup"]
    texts = [p.get("text", "") for p in said]
    if consent:
        return GRANTED, spoke_marketing
    if hangups and hangups[-1]["outcome"] == "refused":
        return REFUSED, spoke_marketing
    asked = any(scripts.consent_question(scripts.DEFAULT_PRODUCT) == t for t in texts) or (
        scripts.REFUSAL_CONFIRM in texts
    )
    return (ASKED_AGAIN if asked else NO_CONSENT), spoke_marketing


@pytest.mark.parametrize("row", TABLE, ids=row_id)
async def test_inv5_inv6_both_channels_read_the_same_answer_the_same_way(
    channels: Channels, row: Row
) -> None:
    rules = load_rules_file(Settings().rules_path).rules  # the shipped rules, both channels
    context = AnswerContext(
        Question.CONSENT, caller_identified=customer_number(row.caller) is not None
    )
    decision = decide_answer(CallerAnswer(NluResult(row.intent, row.confidence)), context, rules)
    assert (decision.outcome, decision.confirm) == (row.outcome, row.confirm)
    assert decision.rules_version == rules.version

    flows = await flow_engine(channels, row)
    bot = await rasa_actions(channels, row)
    expected = EFFECT[row.outcome]
    assert flows == (expected, expected == GRANTED)
    assert bot == (expected, expected == GRANTED)


@pytest.mark.parametrize(
    ("digit", "outcome"),
    [("1", Outcome.CONSENT_GRANTED), ("2", Outcome.REFUSED), ("9", Outcome.NOT_AN_ANSWER)],
)
async def test_inv5_dtmf_at_the_consent_question_means_what_the_rules_say(
    channels: Channels, digit: str, outcome: Outcome
) -> None:
    """The bot hears no DTMF; the flow engine's digits mean what the rules file says."""
    rules = load_rules_file(Settings().rules_path).rules
    context = AnswerContext(Question.CONSENT, caller_identified=True)
    assert decide_answer(CallerAnswer(digits=digit), context, rules).outcome is outcome
    expected = EFFECT[outcome]
    assert await flow_call(channels, Turn.press(digit), NUMBER) == (expected, expected == GRANTED)
