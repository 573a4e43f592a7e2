"""What the actions know about a call (read from the tracker) and how the bot speaks.

:class:`Call` is built once per turn from the Rasa tracker: slots (purpose, stage, consent), the
latest message's NLU result and metadata. :meth:`Call.read_answer` hands the turn to the one
consent/refusal policy (:func:`compliance.consent_policy.decide_answer`) with the question the
stage stands for, so the bot reads a caller's answer exactly as the flow engine does. Rasa never
holds the customer's number: the ``caller_handle`` slot is resolved through the app's database
(:func:`read_call`, :mod:`bot.caller_handles`) to a :class:`ivr.phone.CustomerNumber`
(``None`` for a caller without a usable number; ``caller_unresolved`` when the caller has one
the actions cannot name: the handle store failed or the handle expired).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import scripts
from actions.scripts import Product
from actions.stores import MARKETING, Stores, StoreUnavailableError
from bot.directives import callback_payload, hangup_payload, say_payload, transfer_payload
from compliance.consent_policy import (
    AnswerContext,
    AnswerDecision,
    CallerAnswer,
    NluResult,
    Question,
    decide_answer,
)
from compliance.rules import RuleSet
from ivr.phone import CustomerNumber

log = logging.getLogger(__name__)

LISTEN = "action_listen"
OPENING, CONSENT, PITCH, SERVICE, CLOSED = "opening", "consent", "pitch", "service", "closed"
CONFIRM_REFUSAL = "confirm_refusal"  # "您是说不需要了，对吗？" was asked


@dataclass(frozen=True, slots=True)
class Call:
    """What the actions know about the call, read from the tracker."""

    call_id: str | None
    caller: CustomerNumber | None
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
    entities: tuple[tuple[str, str], ...] = ()
    caller_unresolved: bool = False

    @property
    def marketing(self) -> bool:
        return self.purpose == MARKETING

    @property
    def question(self) -> Question:
        """What the caller is answering, from the dialogue stage."""
        if self.stage == CONSENT:
            return Question.CONSENT
        if self.stage == PITCH:
            return Question.AFTER_MARKETING
        if self.stage == CONFIRM_REFUSAL:
            return Question.CONFIRM_REFUSAL
        return Question.MARKETING_OTHER if self.marketing else Question.OTHER

    def read_answer(self, rules: RuleSet) -> AnswerDecision:
        """The consent/refusal policy's reading of this turn."""
        nlu = NluResult(self.intent, self.confidence, self.entities)
        context = AnswerContext(self.question, caller_identified=self.caller is not None)
        return decide_answer(CallerAnswer(nlu=nlu, text=self.text), context, rules)

    @classmethod
    def from_tracker(
        cls, tracker: Tracker, caller: CustomerNumber | None = None, *, unresolved: bool = False
    ) -> Call:
        """The call as the tracker shows it, the customer resolved by the caller (see
        :func:`read_call`)."""

        def text_slot(name: str) -> str | None:
            value = tracker.get_slot(name)
            return str(value) if value not in (None, "") else None

        latest: dict[str, Any] = tracker.latest_message or {}
        intent = (latest.get("intent") or {}).get("name")
        confidence = (latest.get("intent") or {}).get("confidence")
        metadata = latest.get("metadata") or {}
        offset = metadata.get("recording_offset_ms") if isinstance(metadata, dict) else None
        campaign = text_slot("campaign")
        entities = [e for e in latest.get("entities") or [] if isinstance(e, dict)]
        times = time_words(entities)
        return cls(
            call_id=text_slot("call_id") or tracker.sender_id,
            caller=caller,
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
            entities=tuple(
                (str(e["entity"]), str(e.get("value", ""))) for e in entities if e.get("entity")
            ),
            caller_unresolved=unresolved,
        )


CALLER_HANDLE_SLOT = "caller_handle"


async def read_call(tracker: Tracker, stores: Stores) -> Call:
    """The call of this turn, its customer resolved from the ``caller_handle`` slot."""
    handle = tracker.get_slot(CALLER_HANDLE_SLOT)
    handle = str(handle) if handle else None
    try:
        caller = await stores.caller(handle)
    except StoreUnavailableError:
        log.error("call %s: caller handle not resolved (store unavailable)", tracker.sender_id)
        caller = None
    return Call.from_tracker(tracker, caller, unresolved=handle is not None and caller is None)


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
