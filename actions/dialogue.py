"""The dialogue actions: one per caller intent (see ``bot/data/rules.yml``).

Each action reads the call (purpose, stage, consent) from slots (:class:`actions.call.Call`),
reads a caller's answer with the one consent/refusal policy
(:mod:`compliance.consent_policy`, the same the flow engine calls), speaks through voice
directives and records what compliance needs (shared steps in :mod:`actions.steps`):

- marketing content only once consent for marketing is on record (invariant 5): the consent is
  granted in the ledger first, then the script and the mandatory, non-interruptible risk warning;
  an unsure yes is asked again, never taken as consent;
- any refusal adds the caller to DNC (durable, retried) before the closing words (invariant 6);
  a refusal-like answer the policy is unsure of is confirmed once;
- complaint and high risk go to the ``senior`` queue with priority (invariant 7).

Customer data (numbers, transcripts) never goes into log text: logs carry call ids only.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import scripts
from actions.call import CLOSED, CONFIRM_REFUSAL, LISTEN, PITCH, Call, Voice, read_call
from actions.disclosure import risk_warning_text
from actions.session import ActionDisclosure
from actions.steps import (
    close,
    confirm,
    confirm_refusal,
    consent_on_record,
    escalate,
    pitch,
    prompt_current,
    refuse,
)
from actions.stores import InvalidRequestError, Stores, StoreUnavailableError, get_stores
from compliance.consent_policy import AnswerDecision, Confirm, Outcome
from ivr.evidence import EvidenceKind

log = logging.getLogger(__name__)

SENIOR = "senior"
GENERAL = "general"
PRIORITY_HIGH_RISK = 9
PRIORITY_COMPLAINT = 8
PRIORITY_NORMAL = 5
MAX_NO_INPUT_PROMPTS = 2
MAX_OUT_OF_SCOPE = 2


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
        stores = get_stores()
        call = await read_call(tracker, stores)
        events = await self.act(call, Voice(dispatcher), stores)
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
    """Yes: explicit consent when the policy reads it so; interest after the pitch; a confirmed
    refusal after "您是说不需要了，对吗？"."""

    action_name = "action_affirm"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        if call.stage == CLOSED:
            return await prompt_current(call, voice, stores)
        decision = call.read_answer(await stores.rules())
        match decision.outcome:
            case Outcome.REFUSED:
                return await refuse(call, voice, stores, "confirmed_refusal", decision)
            case Outcome.NEEDS_CONFIRMATION:
                return await confirm(call, voice, stores, decision)
            case Outcome.CONSENT_UNRECORDABLE:
                log.warning("call %s: consent from a caller without a number", call.call_id)
                return close(voice, scripts.CLOSE_GOODBYE, "consent_unrecorded")
            case Outcome.CONSENT_GRANTED if call.marketing and not call.consent_recorded:
                return await self.grant(call, voice, stores, decision)
        if call.marketing and call.stage == PITCH:
            return await escalate(
                call,
                voice,
                stores,
                queue=GENERAL,
                priority=PRIORITY_NORMAL,
                reason="sales_interest",
                text=scripts.TO_ADVISER,
            )
        return await prompt_current(call, voice, stores)

    @staticmethod
    async def grant(
        call: Call, voice: Voice, stores: Stores, decision: AnswerDecision
    ) -> list[EventType]:
        assert call.caller is not None  # the policy grants consent only with a number
        excerpt = f"问：{scripts.consent_question(call.product)} 答：{call.text}"
        try:
            await stores.grant_consent(
                call.caller,
                scope=f"campaign:{call.campaign or 'default'}",
                call_id=call.call_id,
                transcript_excerpt=excerpt,
                recording_offset_ms=call.recording_offset_ms,
                decision=decision,
            )
        except (StoreUnavailableError, InvalidRequestError) as exc:
            log.error("call %s: consent not recorded (%s)", call.call_id, type(exc).__name__)
            return close(voice, scripts.CLOSE_STORE_ERROR, "consent_unrecorded")
        return [SlotSet("consent_recorded", True), *pitch(call, voice)]


class ActionDeny(BotAction):
    """No: a refusal where the policy reads it so (on a marketing call: DNC); after the refusal
    confirmation, "no, I did not mean that" continues the call; otherwise a polite close."""

    action_name = "action_deny"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        decision = call.read_answer(await stores.rules())
        if decision.outcome is Outcome.REFUSED:
            return await refuse(call, voice, stores, "declined_marketing", decision)
        if decision.outcome is Outcome.NEEDS_CONFIRMATION:
            return await confirm(call, voice, stores, decision)
        if call.stage == CONFIRM_REFUSAL or call.marketing:
            return await prompt_current(call, voice, stores)
        return close(voice, scripts.CLOSE_NO_THANKS, "completed")


class ActionRefuseContact(BotAction):
    """ "Don't call me again", on any call: DNC, polite close (an unsure one is confirmed)."""

    action_name = "action_refuse_contact"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        decision = call.read_answer(await stores.rules())
        if decision.outcome is Outcome.NEEDS_CONFIRMATION:
            return await confirm(call, voice, stores, decision)
        if decision.outcome is Outcome.REFUSED:
            return await refuse(call, voice, stores, "refused_contact", decision)
        return await prompt_current(call, voice, stores)


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
    """Out of scope or not understood: apologise and re-prompt; the second time, a human.
    Where the consent policy asks whether an unclear answer means no, that is asked instead."""

    action_name = "action_out_of_scope"

    async def act(self, call: Call, voice: Voice, stores: Stores) -> list[EventType]:
        decision = call.read_answer(await stores.rules())
        if decision.outcome is Outcome.NEEDS_CONFIRMATION and decision.confirm is Confirm.REFUSAL:
            return confirm_refusal(voice)
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
        voice.say(scripts.OUT_OF_SCOPE)  # then the current question again (never consent)
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
