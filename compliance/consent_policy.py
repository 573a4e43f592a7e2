"""The one consent/refusal policy (pure): what a caller's answer means, for every channel.

``decide_answer(answer, context, rules) -> AnswerDecision``. The flow engine
(:mod:`flows.orchestrator`) and the Rasa actions (:mod:`actions.dialogue`) both call it with
what they heard (the NLU result: intent, confidence, entities; or DTMF digits) and what was
asked (:class:`Question`); the thresholds, intents and DTMF meanings are the rules file's
``consent_policy`` section (:mod:`compliance.consent_rules`), and every decision names the rules
version it used, which goes into the consent and refusal evidence.

The order of reading (first match wins):

1. DTMF digits win over speech: the first digit's meaning after this question, if it has one.
2. A refusal intent is a refusal wherever it is heard (invariant 6) at or above
   ``min_confidence.refusal``; a yes or a no means what ``questions`` says for this question
   (only the consent question can be answered with consent, at ``min_confidence.consent``).
3. Leaning answers are never consent: a yes below ``consent`` at the consent question gets
   ``unclear.leaning_yes``; a refusal-like answer between ``refusal_confirm`` and ``refusal``
   gets ``unclear.leaning_no``; no confident intent gets the question's ``unclassified``.
   After the refusal confirmation itself, anything unclear is not an answer (asked once).
4. An utterance the recogniser did not hear clearly (``CallerAnswer.heard_clearly`` false: its
   own confidence too low, e.g. Whisper-base on a garbled line) is never a clear answer,
   whatever the NLU made of its words: refusal-like gets ``unclear.leaning_no``, a yes at the
   consent question ``unclear.leaning_yes``, anything else the question's ``misheard`` (default:
   ``unclassified``). Not after the refusal confirmation, which is asked once and decides.
5. An utterance the NLU reads as something unrelated (another intent, or none) but that
   *sounds* like refusal wording after one of ``sounds_like_refusal.questions`` (its loose
   toneless pinyin within ``min_similarity`` of one of the rules' phrases,
   :mod:`compliance.refusal_sounds`; the NLU read a clearly heard 我没这个打算 as
   ``wrong_number``) gets ``unclear.leaning_no``: confirmed, never consent, never a refusal
   unconfirmed. Heard clearly or not; only a yes, a no or a refusal intent is read first.
6. A consent from a caller without a usable number cannot be recorded: it is
   ``CONSENT_UNRECORDABLE`` and marketing never follows (``marketing_allowed`` is false).

When the NLU gives no intent at all (down, timed out: under load a refusal would otherwise go
unheard, invariant 6), :func:`offline_refusal` reads the transcript against the rules file's
``offline_refusal_phrases``: a match is the first refusal intent at ``min_confidence.refusal``
(then read as above), anything else stays unclassified. It can only ever produce a refusal,
never a yes or a no.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from compliance.consent_rules import (
    ConsentPolicyRules,
    Meaning,
    Question,
    Unclear,
    normalized_utterance,
)
from compliance.refusal_sounds import refusal_similarity
from compliance.rules import RuleSet

__all__ = [
    "AnswerContext",
    "AnswerDecision",
    "AnswerReason",
    "CallerAnswer",
    "Confirm",
    "NluResult",
    "Outcome",
    "Question",
    "decide_answer",
    "offline_refusal",
]


@dataclass(frozen=True, slots=True)
class NluResult:
    """What the NLU made of an utterance (the transcript itself is not needed)."""

    intent: str | None
    confidence: float
    entities: tuple[tuple[str, str], ...] = ()  # (entity, value)


@dataclass(frozen=True, slots=True)
class CallerAnswer:
    """One caller turn: DTMF digits (win over speech) or an utterance's NLU result."""

    nlu: NluResult | None = None  # None: nothing was said (silence, no transcript)
    digits: str = ""
    heard_clearly: bool = True  # the recogniser's own judgement of its transcript
    text: str = ""  # the transcript: only its sound is read (rule 5), never kept or logged


@dataclass(frozen=True, slots=True)
class AnswerContext:
    """What was asked, and whether the caller has a usable number (consent and DNC need one)."""

    question: Question
    caller_identified: bool


class Outcome(StrEnum):
    CONSENT_GRANTED = "consent_granted"  # record the consent; then marketing may follow
    REFUSED = "refused"  # DNC (or refusal evidence without a number), polite close
    NEEDS_CONFIRMATION = "needs_confirmation"  # ask :attr:`AnswerDecision.confirm`, once
    NOT_AN_ANSWER = "not_an_answer"  # neither: the channel handles it as ordinary input
    CONSENT_UNRECORDABLE = "consent_unrecordable"  # a yes with no number to record it against


class Confirm(StrEnum):
    """What a confirmation asks."""

    CONSENT = "consent"  # the consent question again, asking for a clear answer
    REFUSAL = "refusal"  # "您是说不需要了，对吗？" (then ask with Question.CONFIRM_REFUSAL)


class AnswerReason(StrEnum):
    DTMF = "dtmf"  # a digit with a meaning after this question
    DTMF_UNMAPPED = "dtmf_unmapped"  # a digit without one
    REFUSAL_INTENT = "refusal_intent"
    CLEAR_YES = "clear_yes"
    CLEAR_NO = "clear_no"
    LEANING_YES = "leaning_yes"
    LEANING_NO = "leaning_no"
    UNCLASSIFIED = "unclassified"
    OTHER_INTENT = "other_intent"
    MISHEARD = "misheard"  # the recogniser did not hear the utterance clearly
    SOUNDS_LIKE_REFUSAL = "sounds_like_refusal"  # another reading, but a refusal's sound
    NO_INPUT = "no_input"


@dataclass(frozen=True, slots=True)
class AnswerDecision:
    """The policy's reading of one answer."""

    outcome: Outcome
    reason: AnswerReason
    question: Question
    rules_version: str
    confirm: Confirm | None = None
    intent: str | None = None
    confidence: float | None = None
    via_dtmf: bool = False

    @property
    def marketing_allowed(self) -> bool:
        """Marketing may follow once this consent is recorded (never without a number)."""
        return self.outcome is Outcome.CONSENT_GRANTED

    def evidence(self) -> dict[str, object]:
        """The decision for an evidence payload (no floats, no transcript, no digits)."""
        return {
            "policy_outcome": self.outcome.value,
            "policy_reason": self.reason.value,
            "question": self.question.value,
            "rules_version": self.rules_version,
            "intent": self.intent,
            "confidence_pct": None if self.confidence is None else round(self.confidence * 100),
            "via": "dtmf" if self.via_dtmf else "speech",
        }


OFFLINE = ("matched_by", "offline_refusal_phrases")
"""The entity an :func:`offline_refusal` result carries (no transcript in it)."""


def offline_refusal(text: str, policy: ConsentPolicyRules) -> NluResult | None:
    """The NLU result for ``text`` when the NLU gave no intent: the policy's refusal intent at
    ``min_confidence.refusal`` if the utterance holds an offline refusal phrase, else None.
    Pure; never a yes or a no."""
    said = normalized_utterance(text)
    if not said or not any(phrase in said for phrase in policy.offline_refusal_phrases):
        return None
    return NluResult(policy.refusal_intents[0], policy.min_confidence.refusal, (OFFLINE,))


def decide_answer(answer: CallerAnswer, context: AnswerContext, rules: RuleSet) -> AnswerDecision:
    """Read one caller answer after ``context.question`` under ``rules``. Pure and total."""
    return _Reader(rules.consent_policy, context, rules.version).read(answer)


class _Reader:
    def __init__(self, policy: ConsentPolicyRules, context: AnswerContext, version: str) -> None:
        self.policy = policy
        self.context = context
        self.version = version
        self.meanings = policy.meanings(context.question)

    def decision(
        self,
        outcome: Outcome,
        reason: AnswerReason,
        *,
        confirm: Confirm | None = None,
        nlu: NluResult | None = None,
        via_dtmf: bool = False,
    ) -> AnswerDecision:
        return AnswerDecision(
            outcome=outcome,
            reason=reason,
            question=self.context.question,
            rules_version=self.version,
            confirm=confirm,
            intent=nlu.intent if nlu is not None else None,
            confidence=nlu.confidence if nlu is not None else None,
            via_dtmf=via_dtmf,
        )

    def read(self, answer: CallerAnswer) -> AnswerDecision:
        if answer.digits:
            meaning = self.meanings.dtmf.get(answer.digits[0])
            if meaning is None:
                return self.decision(
                    Outcome.NOT_AN_ANSWER, AnswerReason.DTMF_UNMAPPED, via_dtmf=True
                )
            return self.meant(meaning, AnswerReason.DTMF, None, via_dtmf=True)
        nlu = answer.nlu
        if nlu is None:
            return self.decision(Outcome.NOT_AN_ANSWER, AnswerReason.NO_INPUT)
        p, floor = self.policy, self.policy.min_confidence
        intent, confidence = nlu.intent, nlu.confidence
        if not answer.heard_clearly and self.context.question is not Question.CONFIRM_REFUSAL:
            return self.misheard(nlu, answer.text)
        if intent in p.refusal_intents:
            return self.by_confidence(Meaning.REFUSAL, AnswerReason.REFUSAL_INTENT, nlu)
        if intent in p.yes_intents:
            return self.by_confidence(self.meanings.yes_means, AnswerReason.CLEAR_YES, nlu)
        if intent in p.no_intents:
            return self.by_confidence(self.meanings.no_means, AnswerReason.CLEAR_NO, nlu)
        if self.sounds_like_refusal(answer.text):
            return self.unclear(p.unclear.leaning_no, AnswerReason.SOUNDS_LIKE_REFUSAL, nlu)
        if intent is None or intent in p.unclassified_intents or confidence < floor.intent:
            return self.unclear(self.meanings.unclassified, AnswerReason.UNCLASSIFIED, nlu)
        return self.decision(Outcome.NOT_AN_ANSWER, AnswerReason.OTHER_INTENT, nlu=nlu)

    def misheard(self, nlu: NluResult, text: str) -> AnswerDecision:
        """An answer not heard clearly: confirmed (or not an answer), never a clear one."""
        p, m, reason = self.policy, self.meanings, AnswerReason.MISHEARD
        if nlu.intent in p.refusal_intents or (
            nlu.intent in p.no_intents and m.no_means is Meaning.REFUSAL
        ):
            return self.unclear(p.unclear.leaning_no, reason, nlu)
        if nlu.intent in p.yes_intents and m.yes_means is Meaning.CONSENT:
            return self.unclear(p.unclear.leaning_yes, reason, nlu)
        if self.sounds_like_refusal(text):
            return self.unclear(p.unclear.leaning_no, AnswerReason.SOUNDS_LIKE_REFUSAL, nlu)
        return self.unclear(m.misheard or m.unclassified, reason, nlu)

    def sounds_like_refusal(self, text: str) -> bool:
        """Rule 5: after one of the rules' questions, the utterance sounds like refusal wording."""
        rule = self.policy.sounds_like_refusal
        if not text or self.context.question not in rule.questions:
            return False
        return refusal_similarity(text, rule.phrases) >= rule.min_similarity

    def by_confidence(
        self, meaning: Meaning, reason: AnswerReason, nlu: NluResult
    ) -> AnswerDecision:
        floor = self.policy.min_confidence
        if meaning is Meaning.CONSENT:
            if nlu.confidence >= floor.consent:
                return self.meant(meaning, reason, nlu)
            return self.unclear(self.policy.unclear.leaning_yes, AnswerReason.LEANING_YES, nlu)
        if meaning is Meaning.REFUSAL:
            if nlu.confidence >= floor.refusal:
                return self.meant(meaning, reason, nlu)
            if nlu.confidence >= floor.refusal_confirm:
                return self.unclear(self.policy.unclear.leaning_no, AnswerReason.LEANING_NO, nlu)
            return self.unclear(self.meanings.unclassified, AnswerReason.UNCLASSIFIED, nlu)
        if nlu.confidence >= floor.intent:
            return self.decision(Outcome.NOT_AN_ANSWER, reason, nlu=nlu)
        return self.unclear(self.meanings.unclassified, AnswerReason.UNCLASSIFIED, nlu)

    def meant(
        self,
        meaning: Meaning,
        reason: AnswerReason,
        nlu: NluResult | None,
        *,
        via_dtmf: bool = False,
    ) -> AnswerDecision:
        if meaning is Meaning.REFUSAL:
            return self.decision(Outcome.REFUSED, reason, nlu=nlu, via_dtmf=via_dtmf)
        if meaning is Meaning.CONSENT:
            outcome = (
                Outcome.CONSENT_GRANTED
                if self.context.caller_identified
                else Outcome.CONSENT_UNRECORDABLE
            )
            return self.decision(outcome, reason, nlu=nlu, via_dtmf=via_dtmf)
        return self.decision(Outcome.NOT_AN_ANSWER, reason, nlu=nlu, via_dtmf=via_dtmf)

    def unclear(self, rule: Unclear, reason: AnswerReason, nlu: NluResult) -> AnswerDecision:
        if self.context.question is Question.CONFIRM_REFUSAL or rule is Unclear.NOT_AN_ANSWER:
            return self.decision(Outcome.NOT_AN_ANSWER, reason, nlu=nlu)  # confirmed once only
        # the rules allow CONFIRM_CONSENT only where the consent question was asked
        confirm = Confirm.CONSENT if rule is Unclear.CONFIRM_CONSENT else Confirm.REFUSAL
        return self.decision(Outcome.NEEDS_CONFIRMATION, reason, confirm=confirm, nlu=nlu)
