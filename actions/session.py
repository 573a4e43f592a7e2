"""Session start and disclosure actions.

``action_session_start`` copies call facts from the first message's metadata into slots and speaks
the disclosure before any other content (invariant 4), as a non-interruptible voice directive,
unless the metadata says ``disclosure_done`` (an IVR flow played it before handing over).
"""

from __future__ import annotations

import logging
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.disclosure import call_facts, disclosure_text
from actions.stores import get_stores
from bot.directives import say_payload
from ivr.errors import RemoteProtocolError
from ivr.evidence import EvidenceKind
from ivr.settings import get_settings

log = logging.getLogger(__name__)

SESSION_METADATA_SLOT = "session_started_metadata"


def _metadata(tracker: Tracker) -> dict[str, Any]:
    started = tracker.get_slot(SESSION_METADATA_SLOT)
    if isinstance(started, dict) and started:
        return started
    latest = tracker.latest_message.get("metadata") if tracker.latest_message else None
    return dict(latest) if isinstance(latest, dict) else {}


def _facts_or_configured(tracker: Tracker) -> dict[str, str]:
    """Call facts from metadata; the configured institution and bot ID if metadata lacks them.

    The disclosure is never skipped (invariant 4), so a call without metadata still hears the
    configured identity.
    """
    metadata = _metadata(tracker)
    try:
        return call_facts(metadata)
    except RemoteProtocolError:
        log.warning("conversation %s has no institution/bot id metadata", tracker.sender_id)
        settings = get_settings()
        fallback = {**metadata, "institution": settings.institution_name, "bot_id": settings.bot_id}
        return call_facts(fallback)


async def _speak_disclosure(
    dispatcher: CollectingDispatcher,
    institution: str,
    bot_id: str,
    *,
    call_id: str,
    purpose: str | None,
    repeat: bool,
) -> None:
    """Speak the disclosure (no barge-in) and log it as evidence (invariant 4)."""
    text = disclosure_text(institution, bot_id)
    dispatcher.utter_message(json_message=say_payload(text, barge_in=False, kind="disclosure"))
    await get_stores().evidence_append(
        EvidenceKind.DISCLOSURE_PLAYED,
        call_id=call_id,
        payload={
            "institution": institution,
            "bot_id": bot_id,
            "purpose": purpose,
            "text": text,
            "repeat": repeat,
        },
    )


class ActionSessionStart(Action):
    """Start a session: fill call slots from metadata, then speak the disclosure."""

    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        events: list[EventType] = [SessionStarted()]
        facts = _facts_or_configured(tracker)
        events.extend(SlotSet(key, value) for key, value in facts.items())
        events.append(SlotSet("stage", "opening"))
        if _metadata(tracker).get("disclosure_done"):
            # an IVR flow already played (and logged) the disclosure before handing over
            return [*events, ActionExecuted("action_listen")]
        await _speak_disclosure(
            dispatcher,
            facts["institution"],
            facts["bot_id"],
            call_id=facts.get("call_id", tracker.sender_id),
            purpose=facts.get("purpose"),
            repeat=False,
        )
        return [*events, ActionExecuted("action_listen")]


class ActionDisclosure(Action):
    """Restate the disclosure (e.g. when the caller asks who is calling)."""

    def name(self) -> str:
        return "action_disclosure"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        institution = tracker.get_slot("institution")
        bot_id = tracker.get_slot("bot_id")
        if not institution or not bot_id:
            facts = _facts_or_configured(tracker)
            institution, bot_id = facts["institution"], facts["bot_id"]
        call_id = tracker.get_slot("call_id") or tracker.sender_id
        await _speak_disclosure(
            dispatcher,
            str(institution),
            str(bot_id),
            call_id=str(call_id),
            purpose=tracker.get_slot("purpose"),
            repeat=True,
        )
        return []
