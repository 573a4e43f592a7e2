"""What the actions know about a call (read from the tracker) and how the bot speaks.

:class:`Call` is built once per turn from the Rasa tracker: slots (purpose, stage, consent), the
latest message's NLU result and metadata. :meth:`Call.read_answer` hands the turn to the one
consent/refusal policy (:func:`compliance.consent_policy.decide_answer`) with the question the
stage stands for, so the bot reads a caller's answer exactly as the flow engine does. The caller
slot becomes a :class:`ivr.phone.CustomerNumber` here, at the edge (``None`` for a caller
without a usable number).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions import scripts
from actions.scripts import Product
from actions.stores import MARKETING
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
from ivr.phone import CustomerNumber, customer_number

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
        return decide_answer(CallerAnswer(nlu=nlu), context, rules)

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
        entities = [e for e in latest.get("entities") or [] if isinstance(e, dict)]
        times = time_words(entities)
        return cls(
            call_id=text_slot("call_id") or tracker.sender_id,
            caller=customer_number(text_slot("caller")),
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
