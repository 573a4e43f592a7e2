"""The dialogue actions: one per caller intent (see ``bot/data/rules.yml``).

Each action reads the call (purpose, stage, consent) from slots, decides deterministically, speaks
through voice directives (``bot.directives``) and records what compliance needs:

- marketing content only once consent for marketing is on record (invariant 5): the consent is
  granted in the ledger first, then the script and the mandatory, non-interruptible risk warning;
- any refusal adds the caller to DNC (durable, retried) before the closing words (invariant 6);
- complaint and high risk go to the ``senior`` queue with priority (invariant 7).

Customer data (numbers, transcripts) never goes into log text: logs carry call ids only.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import scripts
from actions.disclosure import risk_warning_text
from actions.scripts import Product
from actions.session import ActionDisclosure
from actions.stores import (
    MARKETING,
    InvalidRequestError,
    Stores,
    StoreUnavailableError,
    get_stores,
)
from bot.directives import callback_payload, hangup_payload, say_payload, transfer_payload
from ivr.evidence import EvidenceKind

log = logging.getLogger(__name__)

SENIOR = "senior"
GENERAL = "general"
PRIORITY_HIGH_RISK = 9
PRIORITY_COMPLAINT = 8
PRIORITY_NORMAL = 5
MAX_NO_INPUT_PROMPTS = 2
MAX_OUT_OF_SCOPE = 2
# explicit consent: a "yes" the NLU is unsure of is not consent; the question is asked again
CONSENT_MIN_CONFIDENCE = 0.7

LISTEN = "action_listen"
OPENING, CONSENT, PITCH, SERVICE, CLOSED = "opening", "consent", "pitch", "service", "closed"


@dataclass(frozen=True, slots=True)
class Call:
    """What the actions know about the call, read from the tracker."""

    call_id: str | None
    caller: str | None
    purpose: str
    campaign: str | None
    product: Product
    stage: str
    consent_recorded: bool
    intent: str | None
    text: str
    no_input_count: int
    oos_count: int
    escalation: str | None
    recording_offset_ms: int | None
    requested_time: str | None = None
    confidence: float = 1.0

    @property
    def marketing(self) -> bool:
        return self.purpose == MARKETING

    @classmethod
    def from_tracker(cls, tracker: Tracker) -> Call:
        def text_slot(name: str) -> str | None:
            value = tracker.get_slot(name)
            return str(value) if value not in (None, "") else None

        latest: dict[str, Any] = tracker.latest_message or {}
        intent = (latest.get("intent") or {}).get("name")
        confidence = (latest.get("intent") or {}).get("confidence")
        metadata = latest.get("metadata") or {}
        offset = metadata.get("recording_offset_ms") if isinstance(metadata, dict) else None
        campaign = text_slot("campaign")
        times = time_words(latest.get("entities") or [])
        return cls(
            call_id=text_slot("call_id") or tracker.sender_id,
            caller=text_slot("caller"),
            purpose=text_slot("purpose") or "service",
            campaign=campaign,
            product=scripts.product_for(campaign, text_slot("product")),
            stage=text_slot("stage") or OPENING,
            consent_recorded=tracker.get_slot("consent_recorded") is True,
            intent=str(intent) if intent else None,
            text=str(latest.get("text") or ""),
            no_input_count=int(tracker.get_slot("no_input_count") or 0),
            oos_count=int(tracker.get_slot("oos_count") or 0),
            escalation=text_slot("escalation"),
            recording_offset_ms=int(offset) if isinstance(offset, int | float) else None,
            requested_time=" ".join(times) or None,
            confidence=float(confidence) if isinstance(confidence, int | float) else 0.0,
        )


class Voice:
    """The directives of one bot turn, in order."""

    def __init__(self, dispatcher: CollectingDispatcher) -> None:
        self._dispatcher = dispatcher

    def say(self, text: str, *, barge_in: bool = True, kind: str = "reply") -> None:
        self._dispatcher.utter_message(json_message=say_payload(text, barge_in=barge_in, kind=kind))

    def transfer(self, queue: str, *, priority: int, reason: str, flagged: bool = False) -> None:
        self._dispatcher.utter_message(
            json_message=transfer_payload(queue, priority=priority, reason=reason, flagged=flagged)
        )

    def hangup(self, outcome: str, *, dnc_recorded: bool | None = None) -> None:
        self._dispatcher.utter_message(
            json_message=hangup_payload(outcome=outcome, dnc_recorded=dnc_recorded)
        )

    def callback(self, requested: str | None) -> None:
        self._dispatcher.utter_message(json_message=callback_payload(requested))


def time_words(entities: list[Any]) -> list[str]:
    """The caller's time words: the longest non-overlapping ``time`` matches, in spoken order.

    The regex extractor reports every pattern that matched ("下午三点", "明天下午三点", "三点").
    """
    spans: list[tuple[int, int, str]] = []
    for e in entities:
        if isinstance(e, dict) and e.get("entity") == "time" and e.get("value"):
            start, end = int(e.get("start", 0)), int(e.get("end", 0))
            spans.append((start, end, str(e["value"])))
    kept: list[tuple[int, int, str]] = []
    for start, end, value in sorted(spans, key=lambda s: s[0] - s[1]):
        if all(end <= k_start or start >= k_end for k_start, k_end, _ in kept):
            kept.append((start, end, value))
    return [value for _, _, value in sorted(kept)]


# --- shared steps -----------------------------------------------------------------------------


async def consent_on_record(call: Call, stores: Stores) -> bool:
    """Consent for marketing recorded in this call or on file and unexpired; errors deny."""
    if call.consent_recorded:
        return True
    if not call.caller:
        return False
    try:
        return await stores.has_marketing_consent(call.caller)
    except (StoreUnavailableError, InvalidRequestError):
        log.warning("call %s: consent lookup failed; consent treated as absent", call.call_id)
        return False


def pitch(call: Call, voice: Voice) -> list[EventType]:
    """The product script and the mandatory risk warning. Callers check consent first."""
    voice.say(scripts.product_script(call.product), kind="marketing")
    voice.say(risk_warning_text(), barge_in=False, kind="risk_warning")
    voice.say(scripts.PITCH_QUESTION, kind="marketing")
    return [SlotSet("stage", PITCH)]


def ask_consent(call: Call, voice: Voice) -> list[EventType]:
    voice.say(scripts.consent_question(call.product), kind="consent")
    return [SlotSet("stage", CONSENT)]


def close(voice: Voice, text: str, outcome: str, **extra: bool | None) -> list[EventType]:
    voice.say(text)
    voice.hangup(outcome, **extra)
    return [SlotSet("stage", CLOSED)]


async def prompt_current(
    call: Call, voice: Voice, stores: Stores, *, repeat: bool = False
) -> list[EventType]:
    """Continue where the call was: the prompt of the current stage."""
    if call.stage == CLOSED:
        return close(voice, scripts.CLOSE_GOODBYE, "completed")
    if not call.marketing:
        voice.say(scripts.HOW_CAN_I_HELP)
        return [SlotSet("stage", SERVICE)]
    if call.stage == OPENING and call.caller:
        try:
            on_dnc = await stores.is_dnc(call.caller)
        except (StoreUnavailableError, InvalidRequestError):
            on_dnc = False  # marketing stays behind the consent question either way
        if on_dnc:
            log.warning("call %s: marketing call to a DNC number; closing", call.call_id)
            return close(voice, scripts.CLOSE_ON_DNC, "dnc")
    if await consent_on_record(call, stores):
        if call.stage == PITCH and not repeat:
            voice.say(scripts.PITCH_QUESTION, kind="marketing")
            return []
        return pitch(call, voice)
    return ask_consent(call, voice)


async def refuse(call: Call, voice: Voice, stores: Stores, reason: str) -> list[EventType]:
    """A refusal: DNC durably first (invariant 6), then the polite close."""
    if call.marketing and not call.consent_recorded and call.stage in (OPENING, CONSENT):
        await stores.evidence_append(
            EvidenceKind.CONSENT_REFUSED,
            call_id=call.call_id,
            payload={"purpose": MARKETING, "campaign": call.campaign, "reason": reason},
        )
    recorded = False
    if call.caller:
        try:
            await stores.add_dnc(call.caller, reason=reason, call_id=call.call_id)
            recorded = True
        except (StoreUnavailableError, InvalidRequestError) as exc:
            log.error("call %s: DNC not recorded (%s)", call.call_id, type(exc).__name__)
    else:
        log.error("call %s: refusal without caller metadata; DNC not recorded", call.call_id)
    return close(voice, scripts.CLOSE_REFUSED, "refused", dnc_recorded=recorded)


async def escalate(
    call: Call,
    voice: Voice,
    stores: Stores,
    *,
    queue: str,
    priority: int,
    reason: str,
    text: str,
    flagged: bool = False,
) -> list[EventType]:
    voice.say(text)
    voice.transfer(queue, priority=priority, reason=reason, flagged=flagged)
    await stores.evidence_append(
        EvidenceKind.ESCALATED,
        call_id=call.call_id,
        payload={"queue": queue, "priority": priority, "reason": reason, "flagged": flagged},
    )
    log.info("call %s escalated to %s (%s)", call.call_id, queue, reason)
    return [SlotSet("stage", CLOSED)]


# --- actions ----------------------------------------------------------------------------------


class BotAction(Action, ABC):
    """Base: builds the call view and the voice; resets the no-input count when the caller spoke;
    hands the turn back to the caller (``FollowupAction("action_listen")``)."""

    action_name: ClassVar[str]
    caller_spoke: ClassVar[bool] = True

    def name(self) -> str:
        return self.action_name

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        call = Call.from_tracker(tracker)
        events = await self.act(call, Voice(dispatcher), get_stores())
        if self.caller_spoke and call.no_input_count:
            events.append(SlotSet("no_input_count", 0.0))
        # Every rule ends by listening: saying so spares Rasa a second policy prediction
        # (~20 ms on 2 cores) per turn.
        events.append(FollowupAction(LISTEN))
        return events

    @abstractmethod
    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        """The action's decision for this turn."""


class ActionResume(BotAction):
    """Greeting, repeat request, after an identity question: the current stage's prompt."""

    action_name = "action_resume"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        return await prompt_current(call, voice, stores, repeat=call.intent == "ask_repeat")


class ActionIdentity(BotAction):
    """Who is calling: restate the disclosure, then continue where the call was.

    One action (not two rule steps) so the turn costs Rasa one prediction less.
    """

    action_name = "action_identity"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        await ActionDisclosure().run(dispatcher, tracker, domain)
        return await super().run(dispatcher, tracker, domain)

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        return await prompt_current(call, voice, stores)


class ActionAffirm(BotAction):
    """Yes: explicit consent when it was asked; interest after the pitch."""

    action_name = "action_affirm"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        if not call.marketing or call.stage == CLOSED:
            return await prompt_current(call, voice, stores)
        if call.stage == PITCH:
            return await escalate(
                call,
                voice,
                stores,
                queue=GENERAL,
                priority=PRIORITY_NORMAL,
                reason="sales_interest",
                text=scripts.TO_ADVISER,
            )
        if call.stage != CONSENT or call.consent_recorded:
            return await prompt_current(call, voice, stores)
        if call.confidence < CONSENT_MIN_CONFIDENCE:
            voice.say(scripts.CONSENT_CONFIRM)
            return ask_consent(call, voice)
        if not call.caller:
            log.error("call %s: consent without caller metadata cannot be recorded", call.call_id)
            return close(voice, scripts.CLOSE_STORE_ERROR, "consent_unrecorded")
        excerpt = f"问：{scripts.consent_question(call.product)} 答：{call.text}"
        try:
            await stores.grant_consent(
                call.caller,
                scope=f"campaign:{call.campaign or 'default'}",
                call_id=call.call_id,
                transcript_excerpt=excerpt,
                recording_offset_ms=call.recording_offset_ms,
            )
        except (StoreUnavailableError, InvalidRequestError) as exc:
            log.error("call %s: consent not recorded (%s)", call.call_id, type(exc).__name__)
            return close(voice, scripts.CLOSE_STORE_ERROR, "consent_unrecorded")
        return [SlotSet("consent_recorded", True), *pitch(call, voice)]


class ActionDeny(BotAction):
    """No: on a marketing call a refusal (DNC); on a service call a polite close."""

    action_name = "action_deny"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        if call.marketing:
            return await refuse(call, voice, stores, "declined_marketing")
        return close(voice, scripts.CLOSE_NO_THANKS, "completed")


class ActionRefuseContact(BotAction):
    """ "Don't call me again", on any call: DNC, polite close."""

    action_name = "action_refuse_contact"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        return await refuse(call, voice, stores, "refused_contact")


class ActionEscalate(BotAction):
    """Complaint / high risk → senior queue with priority; ask for a human → general."""

    action_name = "action_escalate"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        reason = call.intent if call.intent in ("complaint", "high_risk") else call.escalation
        if reason == "high_risk":
            events = await escalate(
                call,
                voice,
                stores,
                queue=SENIOR,
                priority=PRIORITY_HIGH_RISK,
                reason="high_risk",
                text=scripts.TO_SENIOR_HIGH_RISK,
                flagged=True,
            )
        elif reason == "complaint":
            events = await escalate(
                call,
                voice,
                stores,
                queue=SENIOR,
                priority=PRIORITY_COMPLAINT,
                reason="complaint",
                text=scripts.TO_SENIOR_COMPLAINT,
            )
        else:
            events = await escalate(
                call,
                voice,
                stores,
                queue=GENERAL,
                priority=PRIORITY_NORMAL,
                reason="ask_human",
                text=scripts.TO_HUMAN,
            )
        if reason in ("complaint", "high_risk"):
            events.append(SlotSet("escalation", reason))
        return events


class ActionAskPurpose(BotAction):
    """Why are you calling: the purpose (marketing: the consent question names it)."""

    action_name = "action_ask_purpose"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        if not call.marketing:
            voice.say(scripts.SERVICE_PURPOSE)
        return await prompt_current(call, voice, stores, repeat=True)


class ActionCallback(BotAction):
    """Busy: offer a callback at the caller's time words; the dialler's gate decides."""

    action_name = "action_callback"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        requested = call.requested_time
        voice.say(scripts.callback_offer(requested))
        voice.callback(requested)
        voice.hangup("callback")
        await stores.evidence_append(
            EvidenceKind.CALLBACK_SCHEDULED,
            call_id=call.call_id,
            payload={"requested": requested, "campaign": call.campaign, "purpose": call.purpose},
        )
        return [SlotSet("callback_time", requested), SlotSet("stage", CLOSED)]


class ActionWrongNumber(BotAction):
    """Wrong person: mark the lead and close (not a refusal: the owner did not refuse)."""

    action_name = "action_wrong_number"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        await stores.evidence_append(
            EvidenceKind.CALL_ENDED,
            call_id=call.call_id,
            payload={"outcome": "wrong_number", "campaign": call.campaign},
        )
        return close(voice, scripts.CLOSE_WRONG_NUMBER, "wrong_number")


class ActionGoodbye(BotAction):
    action_name = "action_goodbye"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        return close(voice, scripts.CLOSE_GOODBYE, "completed")


class ActionOutOfScope(BotAction):
    """Out of scope or not understood: apologise and re-prompt; the second time, a human."""

    action_name = "action_out_of_scope"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        count = call.oos_count + 1
        if count >= MAX_OUT_OF_SCOPE:
            events = await escalate(
                call,
                voice,
                stores,
                queue=GENERAL,
                priority=PRIORITY_NORMAL,
                reason="out_of_scope",
                text=scripts.TO_HUMAN_OOS,
            )
            return [SlotSet("oos_count", float(count)), *events]
        voice.say(scripts.OUT_OF_SCOPE)
        events = await prompt_current(call, voice, stores)
        return [SlotSet("oos_count", float(count)), *events]


class ActionNoInput(BotAction):
    """Silence (the telephony layer sends ``/no_input``): re-prompt twice, then close."""

    action_name = "action_no_input"
    caller_spoke = False

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        count = call.no_input_count + 1
        if count > MAX_NO_INPUT_PROMPTS:
            return [
                SlotSet("no_input_count", float(count)),
                *close(voice, scripts.CLOSE_NO_INPUT, "no_input"),
            ]
        voice.say(scripts.ARE_YOU_THERE)
        events = await prompt_current(call, voice, stores)
        return [SlotSet("no_input_count", float(count)), *events]


class ActionProductQuestion(BotAction):
    """A product question: answered only after consent; on a service call, an adviser."""

    action_name = "action_product_question"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        if not call.marketing:
            return await escalate(
                call,
                voice,
                stores,
                queue=GENERAL,
                priority=PRIORITY_NORMAL,
                reason="product_inquiry",
                text=scripts.PRODUCT_TO_ADVISER,
            )
        if call.stage != CLOSED and await consent_on_record(call, stores):
            voice.say(call.product.details, kind="marketing")
            voice.say(risk_warning_text(), barge_in=False, kind="risk_warning")
            voice.say(scripts.PITCH_QUESTION, kind="marketing")
            return [SlotSet("stage", PITCH)]
        return await prompt_current(call, voice, stores)


class ActionRiskClarification(BotAction):
    """ "Guaranteed? No risk?": never a promise; the risk statement, then continue."""

    action_name = "action_risk_clarification"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        voice.say(scripts.NO_GUARANTEE, barge_in=False, kind="risk_warning")
        voice.say(risk_warning_text(), barge_in=False, kind="risk_warning")
        if call.stage == CLOSED:
            return []
        return await prompt_current(call, voice, stores)


class ActionServiceRequest(BotAction):
    """An account service request: hand-off to the general queue."""

    action_name = "action_service_request"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        return await escalate(
            call,
            voice,
            stores,
            queue=GENERAL,
            priority=PRIORITY_NORMAL,
            reason="service_request",
            text=scripts.SERVICE_REQUEST,
        )
