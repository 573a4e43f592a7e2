"""The ``consent_policy`` section of a rules file: how a caller's answer is read (pure data).

Thresholds, the intents that mean yes, no and "never call me again", what a clear yes, no or
DTMF digit means after each kind of question, what an unclear answer gets, and the phrases
read as a refusal when the NLU gives no intent at all (down or timed out). Validated with
the rest of the rules file (:mod:`compliance.rules`) and applied by
:func:`compliance.consent_policy.decide_answer`, which every channel calls.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError


class Question(StrEnum):
    """What the caller is answering (the dialogue context)."""

    CONSENT = "consent_question"  # the explicit consent question was just asked
    AFTER_MARKETING = "after_marketing"  # marketing content (the pitch) was spoken
    CONFIRM_REFUSAL = "confirm_refusal"  # "您是说不需要了，对吗？" was just asked
    MARKETING_OTHER = "marketing_other"  # any other point of a marketing call
    MENU = "menu"  # an IVR menu
    OTHER = "other"  # anything else (service conversation, ...)


class Meaning(StrEnum):
    """What a clear answer means after a question."""

    CONSENT = "consent"
    REFUSAL = "refusal"
    NONE = "none"  # not an answer to the question: the channel handles it as ordinary input


class Unclear(StrEnum):
    """What an unclear answer (neither clearly one thing nor another) gets: never consent."""

    CONFIRM_CONSENT = "confirm_consent"  # ask the consent question again, for a clear answer
    CONFIRM_REFUSAL = "confirm_refusal"  # ask once whether the caller means no
    NOT_AN_ANSWER = "not_an_answer"


class QuestionMeanings(BaseModel):
    """The meaning of a clear yes, a clear no and each DTMF digit after one kind of question."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    yes_means: Meaning = Meaning.NONE
    no_means: Meaning = Meaning.NONE
    dtmf: Mapping[str, Meaning] = Field(default_factory=dict)
    unclassified: Unclear = Field(
        default=Unclear.NOT_AN_ANSWER,
        description="what an answer with no (confident) intent gets after this question",
    )
    misheard: Unclear | None = Field(
        default=None,
        description="what an answer the recogniser did not hear clearly gets when it is "
        "neither refusal-like nor a yes (default: as unclassified)",
    )

    @field_validator("dtmf")
    @classmethod
    def _digits(cls, v: Mapping[str, Meaning]) -> Mapping[str, Meaning]:
        for key in v:
            if len(key) != 1 or key not in "0123456789*#":
                raise PydanticCustomError(
                    "rules.dtmf_key",
                    "DTMF key {key} must be one of 0-9, * or #",
                    {"key": repr(key)},
                )
        return v


OFFLINE_REFUSAL_PHRASES: tuple[str, ...] = (
    "别再打",
    "不要再打",
    "别再给我打",
    "不要再给我打",
    "别给我打电话",
    "不要给我打电话",
    "别打电话",
    "不要打电话",
    "别再来电",
    "不要再来电",
    "别再联系我",
    "不要再联系我",
    "别联系我",
    "不要联系我",
)
"""Unmistakable "do not call me again" phrases: the default of ``offline_refusal_phrases``."""

REFUSAL_SOUND_PHRASES: tuple[str, ...] = (
    *OFFLINE_REFUSAL_PHRASES,
    "不需要",
    "不用了",
    "不要了",
    "没兴趣",
    "不感兴趣",
    "不考虑",
    "没打算",
    "不打算",
    "没这个打算",
    "没这个需要",
    "不想了解",
    "别骚扰我",
    "别烦我",
    "拉黑",
    "不同意",
)
"""Refusal and no wording compared by sound (default of ``sounds_like_refusal.phrases``)."""

_NOT_TEXT = re.compile(r"[\s\u3000,.!?;:~，。！？；：、～…·'\"“”‘’()（）\[\]【】-]+")


def normalized_utterance(text: str) -> str:
    """``text`` without spaces and punctuation (how offline refusal phrases are matched)."""
    return _NOT_TEXT.sub("", text)


class MinConfidence(BaseModel):
    """NLU confidence thresholds (0..1)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    intent: float = Field(ge=0, le=1, description="below: the utterance is unclassified")
    consent: float = Field(ge=0, le=1, description="a yes below this is never consent")
    refusal: float = Field(ge=0, le=1, description="a refusal at or above this is a refusal")
    refusal_confirm: float = Field(
        ge=0, le=1, description="a refusal-like answer from here up to `refusal` is confirmed"
    )

    @model_validator(mode="after")
    def _order(self) -> MinConfidence:
        if self.refusal_confirm > self.refusal:
            raise PydanticCustomError(
                "rules.refusal_confirm_above", "refusal_confirm must not be above refusal"
            )
        if self.consent < self.intent:
            raise PydanticCustomError(
                "rules.consent_below_intent",
                "consent must not be below intent (consent is the strictest)",
            )
        return self


class UnclearRules(BaseModel):
    """What a leaning answer gets: a yes below ``min_confidence.consent`` at the consent
    question, a refusal-like answer from ``refusal_confirm`` up to ``refusal`` anywhere."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    leaning_yes: Unclear
    leaning_no: Unclear

    @field_validator("leaning_no")
    @classmethod
    def _no_is_not_a_consent_question(cls, v: Unclear) -> Unclear:
        if v is Unclear.CONFIRM_CONSENT:
            raise PydanticCustomError(
                "rules.leaning_no", "a leaning no is confirmed as a refusal or not an answer"
            )
        return v


class SoundsLikeRefusal(BaseModel):
    """An utterance the NLU reads as an unrelated intent (or none) but whose loose toneless pinyin
    is within ``min_similarity`` of one of ``phrases`` (:mod:`compliance.refusal_sounds`), after
    one of ``questions``: confirmed as a refusal ("您是说不需要了，对吗？"), never consent, never
    a refusal unconfirmed. Off (no questions) unless the rules file names them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    questions: tuple[Question, ...] = ()
    min_similarity: float = Field(default=0.9, ge=0.5, le=1)
    phrases: tuple[str, ...] = REFUSAL_SOUND_PHRASES

    @field_validator("questions")
    @classmethod
    def _asked_once(cls, v: tuple[Question, ...]) -> tuple[Question, ...]:
        if Question.CONFIRM_REFUSAL in v:
            raise PydanticCustomError(
                "rules.sounds_like_refusal_question",
                "the refusal confirmation is asked once: it cannot be confirmed again",
            )
        return v

    @field_validator("phrases")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _two_characters_or_more(
            v, "rules.sounds_like_refusal_phrase", "refusal sound phrases"
        )


def _two_characters_or_more(v: tuple[str, ...], code: str, what: str) -> tuple[str, ...]:
    short = [p for p in v if len(normalized_utterance(p)) < 2]
    if short:
        raise PydanticCustomError(
            code,
            what + " need two characters or more: {short}",
            {"short": ", ".join(repr(p) for p in short)},
        )
    return tuple(normalized_utterance(p) for p in v)


class ConsentPolicyRules(BaseModel):
    """The ``consent_policy`` section of a rules file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    yes_intents: tuple[str, ...] = Field(min_length=1)
    no_intents: tuple[str, ...] = Field(min_length=1)
    refusal_intents: tuple[str, ...] = Field(
        min_length=1, description="a refusal wherever it is heard (invariant 6)"
    )
    unclassified_intents: tuple[str, ...] = Field(
        default=(), description="intents that say the NLU did not classify (nlu_fallback)"
    )
    min_confidence: MinConfidence
    questions: Mapping[Question, QuestionMeanings]
    unclear: UnclearRules
    offline_refusal_phrases: tuple[str, ...] = Field(
        default=OFFLINE_REFUSAL_PHRASES,
        description="when the NLU gives no intent (down, timed out): an utterance holding one"
        " of these (spaces and punctuation ignored) is a refusal; nothing else is read",
    )
    sounds_like_refusal: SoundsLikeRefusal = Field(default_factory=SoundsLikeRefusal)

    @field_validator("offline_refusal_phrases")
    @classmethod
    def _phrases(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _two_characters_or_more(v, "rules.offline_refusal_phrase", "offline refusal phrases")

    @field_validator("questions")
    @classmethod
    def _every_question(
        cls, v: Mapping[Question, QuestionMeanings]
    ) -> Mapping[Question, QuestionMeanings]:
        missing = [q.value for q in Question if q not in v]
        if missing:
            raise PydanticCustomError(
                "rules.questions_missing",
                "questions must describe every context; missing {missing}",
                {"missing": ", ".join(missing)},
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> ConsentPolicyRules:
        sets = {
            "yes": self.yes_intents,
            "no": self.no_intents,
            "refusal": self.refusal_intents,
            "unclassified": self.unclassified_intents,
        }
        names = list(sets)
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                both = set(sets[a]) & set(sets[b])
                if both:
                    raise PydanticCustomError(
                        "rules.intents_overlap",
                        "intents {intents} are both {a} and {b} intents",
                        {"intents": ", ".join(sorted(both)), "a": a, "b": b},
                    )
        for q, meanings in self.questions.items():
            consents = [meanings.yes_means, meanings.no_means, *meanings.dtmf.values()]
            if Meaning.CONSENT in consents and q is not Question.CONSENT:
                raise PydanticCustomError(
                    "rules.consent_answer_elsewhere",
                    "only the consent question can be answered with consent ({question})",
                    {"question": str(q)},
                )
            if meanings.no_means is Meaning.CONSENT:
                raise PydanticCustomError("rules.no_means_consent", "a no can never mean consent")
            asked_again = (meanings.unclassified, meanings.misheard)
            if Unclear.CONFIRM_CONSENT in asked_again and q is not Question.CONSENT:
                raise PydanticCustomError(
                    "rules.confirm_consent_elsewhere",
                    "only the consent question is asked again for consent ({question})",
                    {"question": str(q)},
                )
        return self

    def meanings(self, question: Question) -> QuestionMeanings:
        return self.questions[question]
