"""Refusal safety through the one consent/refusal policy (``compliance.consent_policy``), on what
the voice pipeline heard: each utterance is read as the answer at the consent question and as
the answer after the marketing pitch.

A refusal (``refuse_contact``, or ``deny`` there) is *caught* when the policy refuses at once, or
asks "您是说不需要了，对吗？" / the consent question again and the caller (who answers that
short question truthfully and clearly — its answer is not itself run through ASR here) confirms.
A *false DNC* is anything else refused at once (a confirmation the caller denies adds nothing).
*Refusal taken as consent* must stay 0: the policy never grants consent to an unclear answer.
The transcript goes with each answer, so the policy's sound rule (``sounds_like_refusal``: an
unrelated reading of refusal-sounding words is confirmed) is measured too, and without it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

REFUSALS = frozenset({"refuse_contact", "deny"})


@dataclass(frozen=True)
class RefusalScores:
    question: str
    refusals: int
    caught: int
    confirmed: int  # of the caught, how many only after a confirmation
    others: int
    false_dnc: int
    asked: int  # non-refusals that got a confirmation question (a cost, not a DNC)
    refusal_as_consent: int
    rules_version: str
    asked_again: int = 0  # non-refusals asked the consent question again (a cost)
    consent_granted: int = 0  # affirm utterances granted consent at once

    @property
    def recall(self) -> float:
        return self.caught / max(1, self.refusals)

    @property
    def false_dnc_rate(self) -> float:
        return self.false_dnc / max(1, self.others)


def policy_available() -> bool:
    try:
        import compliance.consent_policy  # type: ignore[import-not-found, unused-ignore]  # noqa: F401
    except ImportError:
        return False
    return True


def score_policy(
    truth: list[str],
    parses: list[dict[str, Any] | None],
    clear: list[bool] | None = None,
    texts: list[str] | None = None,
    sound: bool = True,
) -> list[RefusalScores]:
    """``parses[i]`` is the NLU result of utterance i (None: nothing heard); ``clear[i]``
    whether the recogniser heard it clearly (``Transcript.clear``; default: all clear);
    ``texts[i]`` its transcript (the policy reads its sound, rule 5: ``sounds_like_refusal``;
    ``sound=False`` turns that rule off, the policy before it)."""
    from compliance.consent_policy import (  # type: ignore[import-not-found, unused-ignore]
        AnswerContext,
        CallerAnswer,
        Confirm,
        NluResult,
        Outcome,
        Question,
        decide_answer,
    )
    from compliance.rules import parse_rules
    from ivr.settings import Settings

    path = Settings().rules_path
    rules = parse_rules(path.read_text(encoding="utf-8"), str(path))
    if not sound:
        policy = rules.consent_policy
        quiet = policy.sounds_like_refusal.model_copy(update={"questions": ()})
        rules = rules.model_copy(
            update={"consent_policy": policy.model_copy(update={"sounds_like_refusal": quiet})}
        )
    said = texts if texts is not None else [""] * len(truth)
    out = []
    for question in (Question.CONSENT, Question.AFTER_MARKETING):
        context = AnswerContext(question=question, caller_identified=True)
        refusals = caught = confirmed = others = false_dnc = asked = as_consent = 0
        asked_again = granted = 0
        heard_clearly = clear if clear is not None else [True] * len(truth)
        for intent, parse, clearly, text in zip(truth, parses, heard_clearly, said, strict=True):
            nlu = None if parse is None else NluResult(parse["intent"], parse["confidence"])
            answer = CallerAnswer(nlu=nlu, heard_clearly=clearly, text=text)
            decision = decide_answer(answer, context, rules)
            refusal = intent in REFUSALS
            if refusal:
                refusals += 1
                if decision.outcome is Outcome.REFUSED:
                    caught += 1
                elif decision.outcome is Outcome.NEEDS_CONFIRMATION:
                    caught += 1  # the caller confirms the refusal, or refuses again when asked
                    confirmed += 1
                elif decision.outcome is Outcome.CONSENT_GRANTED:
                    as_consent += 1
            elif intent != "no_input" or nlu is not None:
                others += 1
                false_dnc += decision.outcome is Outcome.REFUSED
                asked += decision.outcome is Outcome.NEEDS_CONFIRMATION and (
                    decision.confirm is Confirm.REFUSAL
                )
                asked_again += decision.confirm is Confirm.CONSENT
                granted += decision.outcome is Outcome.CONSENT_GRANTED and intent == "affirm"
        out.append(
            RefusalScores(
                question.value,
                refusals,
                caught,
                confirmed,
                others,
                false_dnc,
                asked,
                as_consent,
                rules.version,
                asked_again,
                granted,
            )
        )
    return out
