"""Issue 17: a refusal the recogniser wrote with other characters of the same sound, which the NLU
then read as something unrelated, is asked about ("您是说不需要了，对吗？") at the consent
question and after the pitch: never consent, never a DNC on a guess (inv5, inv6)."""

from __future__ import annotations

import pytest
from cmp_support import rules_text

from compliance.consent_policy import (
    AnswerContext,
    AnswerReason,
    CallerAnswer,
    Confirm,
    NluResult,
    Outcome,
    Question,
    decide_answer,
)
from compliance.refusal_sounds import refusal_similarity
from compliance.reload import load_rules_file
from compliance.rules import RulesError, RuleSet, parse_rules
from ivr.settings import Settings

SHIPPED = load_rules_file(Settings().rules_path).rules
Q = Question


def read(
    text: str,
    intent: str | None,
    question: Question,
    *,
    confidence: float = 0.9,
    clear: bool = True,
    rules: RuleSet = SHIPPED,
) -> tuple[Outcome, Confirm | None, AnswerReason]:
    d = decide_answer(
        CallerAnswer(NluResult(intent, confidence), heard_clearly=clear, text=text),
        AnswerContext(question, caller_identified=True),
        rules,
    )
    return d.outcome, d.confirm, d.reason


ASKED = (Outcome.NEEDS_CONFIRMATION, Confirm.REFUSAL, AnswerReason.SOUNDS_LIKE_REFUSAL)


@pytest.mark.parametrize("question", [Q.CONSENT, Q.AFTER_MARKETING])
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("不虚要，谢谢", "wrong_number"),  # 不需要 with a homophone
        ("我美这个打算", "wrong_number"),  # 我没这个打算: 没 heard as 美
        ("你们别再扫扬我了", "nlu_fallback"),  # 别再骚扰我 with a near sound (扬 yang, 扰 rao)
        ("以后别再给我大电话", "ask_product"),
    ],
)
def test_an_unrelated_reading_of_refusal_sounds_is_confirmed(
    text: str, intent: str, question: Question
) -> None:
    assert read(text, intent, question) == ASKED
    assert read(text, intent, question, clear=False) == ASKED  # not heard clearly: the same


def test_the_sound_rule_never_refuses_nor_grants_and_yields_to_the_intents() -> None:
    # a yes, a no and a refusal intent are read first, as before
    assert read("不需要", "deny", Q.CONSENT)[0] is Outcome.REFUSED
    assert read("需要", "affirm", Q.CONSENT)[0] is Outcome.CONSENT_GRANTED  # 需要 is not 不需要
    assert read("别再打了", "refuse_contact", Q.MENU)[0] is Outcome.REFUSED
    # only at the rules' questions, and only on refusal sounds
    assert read("不虚要，谢谢", "wrong_number", Q.MENU)[0] is Outcome.NOT_AN_ANSWER
    assert read("不虚要，谢谢", "wrong_number", Q.OTHER)[0] is Outcome.NOT_AN_ANSWER
    assert read("你打错了，我不是他", "wrong_number", Q.CONSENT)[0] is Outcome.NOT_AN_ANSWER
    assert read("你们是哪个公司的", "ask_identity", Q.AFTER_MARKETING)[0] is Outcome.NOT_AN_ANSWER
    # the refusal confirmation's own answer is never confirmed again
    said = read("不虚要", "wrong_number", Q.CONFIRM_REFUSAL)
    assert said[0] is Outcome.NOT_AN_ANSWER
    # no transcript (a channel without one): the policy as before
    assert read("", "wrong_number", Q.CONSENT)[0] is Outcome.NOT_AN_ANSWER


def test_the_sound_rule_is_rules_data_and_off_unless_named() -> None:
    plain = parse_rules(rules_text("s-1"), "p.yaml")  # no sounds_like_refusal section
    assert read("不虚要", "wrong_number", Q.CONSENT, rules=plain)[0] is Outcome.NOT_AN_ANSWER
    own = parse_rules(
        rules_text("s-2").replace(
            "  unclear:",
            "  sounds_like_refusal: {questions: [menu], phrases: [挂了吧]}\n  unclear:",
        ),
        "p.yaml",
    )
    assert read("瓜了吧", "greet", Q.MENU, rules=own) == ASKED
    assert read("不虚要", "wrong_number", Q.CONSENT, rules=own)[0] is Outcome.NOT_AN_ANSWER
    for bad, field in (
        ("{questions: [confirm_refusal]}", "sounds_like_refusal.questions"),
        ("{questions: [menu], phrases: [不]}", "sounds_like_refusal.phrases"),
        ("{min_similarity: 0.2}", "sounds_like_refusal.min_similarity"),
    ):
        text = rules_text("s-3").replace("  unclear:", f"  sounds_like_refusal: {bad}\n  unclear:")
        with pytest.raises(RulesError) as info:
            parse_rules(text, "p.yaml")
        assert field in info.value.issues[0].field, info.value.issues[0]


def test_similarity_is_by_sound_and_a_shorter_utterance_never_matches() -> None:
    assert refusal_similarity("部需要", ["不需要"]) == 1.0  # a homophone
    assert refusal_similarity("嗯，那我就不需要了吧", ["不需要"]) == 1.0  # inside the utterance
    assert refusal_similarity("需要", ["不需要"]) == 0.0  # shorter than the phrase
    assert refusal_similarity("不需要", []) == 0.0
    assert 0.5 < refusal_similarity("别在手摇", ["别再骚扰"]) < 1.0  # a near sound
    # the stretch must hold the phrase's negation: 以后再联系我 (call me later) is not 别再联系我
    assert refusal_similarity("明天下午以后再联系我", ["别再联系我"]) < 0.7
    assert refusal_similarity("好的没问题", ["不需要"]) < 0.7
