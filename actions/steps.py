"""Steps the dialogue actions share: consent on record, the pitch, the consent question, the
refusal (DNC first), the confirmations the consent policy asks for, escalation and closing.
"""

from __future__ import annotations

import logging

from rasa_sdk.events import EventType, SlotSet

from actions import scripts
from actions.call import CLOSED, CONFIRM_REFUSAL, CONSENT, OPENING, PITCH, SERVICE, Call, Voice
from actions.disclosure import risk_warning_text
from actions.stores import MARKETING, InvalidRequestError, Stores, StoreUnavailableError
from compliance.consent_policy import AnswerDecision, Confirm
from ivr.evidence import EvidenceKind

log = logging.getLogger(__name__)


async def consent_on_record(call: Call, stores: Stores) -> bool:
    """Consent for marketing recorded in this call or on file and unexpired; errors deny."""
    if call.consent_recorded:
        return True
    if call.caller is None:
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
    if call.stage == OPENING and call.caller is not None:
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


async def refuse(
    call: Call, voice: Voice, stores: Stores, reason: str, decision: AnswerDecision
) -> list[EventType]:
    """A refusal: DNC durably first (invariant 6), then the polite close.

    The hangup says ``dnc_recorded``: true once on DNC, false when the store failed (the
    orchestrator records it again) or when the caller's handle did not resolve, ``None`` for a
    caller without a usable number (nothing to put on DNC; the refusal is chained evidence of
    its own)."""
    if (
        call.marketing
        and not call.consent_recorded
        and call.stage in (OPENING, CONSENT, CONFIRM_REFUSAL)
    ):
        await stores.evidence_append(
            EvidenceKind.CONSENT_REFUSED,
            call_id=call.call_id,
            payload={
                "purpose": MARKETING,
                "campaign": call.campaign,
                "reason": reason,
                **decision.evidence(),
            },
        )
    recorded: bool | None = False
    if call.caller_unresolved:  # a number the bot cannot name: the orchestrator records it
        log.error("call %s: refusal left to the orchestrator (caller unresolved)", call.call_id)
        return close(voice, scripts.CLOSE_REFUSED, "refused", dnc_recorded=False)
    try:
        refusal = await stores.record_refusal(
            call.caller, reason=reason, call_id=call.call_id, decision=decision
        )
        recorded = True if refusal.dnc_recorded else None
    except (StoreUnavailableError, InvalidRequestError) as exc:
        log.error("call %s: refusal not recorded (%s)", call.call_id, type(exc).__name__)
    return close(voice, scripts.CLOSE_REFUSED, "refused", dnc_recorded=recorded)


def confirm_refusal(voice: Voice) -> list[EventType]:
    """Ask once whether an unclear answer means no (never taken as consent)."""
    voice.say(scripts.REFUSAL_CONFIRM)
    return [SlotSet("stage", CONFIRM_REFUSAL)]


async def confirm(
    call: Call, voice: Voice, stores: Stores, decision: AnswerDecision
) -> list[EventType]:
    """What a ``needs_confirmation`` decision asks: the consent question again, for a clear
    answer, or whether the caller means no."""
    if decision.confirm is Confirm.REFUSAL:
        return confirm_refusal(voice)
    voice.say(scripts.CONSENT_CONFIRM)
    return ask_consent(call, voice)


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
