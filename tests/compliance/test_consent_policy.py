"""The consent/refusal policy (pure): what an answer means after each question, from the rules
file's data; an unclear answer is never consent (inv5); a refusal anywhere is a refusal (inv6)."""

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
    offline_refusal,
)
from compliance.reload import load_rules_file
from compliance.rules import RulesError, RuleSet, parse_rules
from ivr.settings import Settings

RULES = parse_rules(rules_text("p-1"), "p.yaml")


def read(
    intent: str | None,
    confidence: float,
    question: Question,
    *,
    identified: bool = True,
    rules: RuleSet = RULES,
) -> tuple[Outcome, Confirm | None]:
    d = decide_answer(
        CallerAnswer(NluResult(intent, confidence)), AnswerContext(question, identified), rules
    )
    return d.outcome, d.confirm


Q = Question
G, R, C, N, U = (
    Outcome.CONSENT_GRANTED,
    Outcome.REFUSED,
    Outcome.NEEDS_CONFIRMATION,
    Outcome.NOT_AN_ANSWER,
    Outcome.CONSENT_UNRECORDABLE,
)


@pytest.mark.parametrize(
    ("intent", "confidence", "question", "expected"),
    [
        ("affirm", 0.9, Q.CONSENT, (G, None)),
        ("affirm", 0.6, Q.CONSENT, (C, Confirm.CONSENT)),
        ("affirm", 0.9, Q.AFTER_MARKETING, (N, None)),  # interest, not consent
        ("affirm", 0.9, Q.MENU, (N, None)),
        ("affirm", 0.9, Q.CONFIRM_REFUSAL, (R, None)),  # "yes, I mean no"
        ("affirm", 0.4, Q.CONFIRM_REFUSAL, (N, None)),  # unclear again: asked once only
        ("deny", 0.9, Q.CONSENT, (R, None)),
        ("deny", 0.9, Q.AFTER_MARKETING, (R, None)),
        ("deny", 0.9, Q.MARKETING_OTHER, (R, None)),
        ("deny", 0.9, Q.OTHER, (N, None)),  # a service call's "no" is not a refusal
        ("deny", 0.9, Q.CONFIRM_REFUSAL, (N, None)),  # "no, I did not mean that"
        ("deny", 0.4, Q.CONSENT, (C, Confirm.REFUSAL)),
        ("refuse_contact", 0.6, Q.MENU, (R, None)),  # a refusal anywhere (inv6)
        ("refuse_contact", 0.6, Q.OTHER, (R, None)),
        ("refuse_contact", 0.4, Q.OTHER, (C, Confirm.REFUSAL)),
        ("refuse_contact", 0.2, Q.OTHER, (N, None)),
        ("refuse_contact", 0.4, Q.CONFIRM_REFUSAL, (N, None)),
        (None, 0.0, Q.CONSENT, (C, Confirm.CONSENT)),
        ("nlu_fallback", 0.3, Q.CONSENT, (C, Confirm.CONSENT)),
        ("nlu_fallback", 0.3, Q.AFTER_MARKETING, (N, None)),
        ("ask_identity", 0.8, Q.CONSENT, (N, None)),  # clearly something else
        ("ask_identity", 0.4, Q.CONSENT, (C, Confirm.CONSENT)),  # neither: asked again
    ],
)
def test_inv5_inv6_answers_mean_what_the_rules_say_after_each_question(
    intent: str | None, confidence: float, question: Question, expected: tuple[Outcome, object]
) -> None:
    assert read(intent, confidence, question) == expected


def test_inv5_a_caller_without_a_number_never_gets_marketing() -> None:
    for question in Question:
        d = decide_answer(
            CallerAnswer(NluResult("affirm", 0.99)), AnswerContext(question, False), RULES
        )
        assert not d.marketing_allowed and d.outcome is not Outcome.CONSENT_GRANTED
    assert read("affirm", 0.99, Q.CONSENT, identified=False) == (U, None)
    assert read("refuse_contact", 0.99, Q.OTHER, identified=False) == (R, None)


def test_dtmf_wins_and_unmapped_digits_are_not_answers() -> None:
    both = CallerAnswer(NluResult("affirm", 0.99), digits="2")
    d = decide_answer(both, AnswerContext(Q.CONSENT, True), RULES)
    assert (d.outcome, d.reason, d.via_dtmf) == (R, AnswerReason.DTMF, True)
    unmapped = decide_answer(CallerAnswer(digits="7"), AnswerContext(Q.CONSENT, True), RULES)
    assert (unmapped.outcome, unmapped.reason) == (N, AnswerReason.DTMF_UNMAPPED)
    menu = decide_answer(CallerAnswer(digits="1"), AnswerContext(Q.MENU, True), RULES)
    assert menu.outcome is N  # a menu's digits are the menu's


def test_silence_is_not_an_answer_and_evidence_has_no_floats_or_digits() -> None:
    silent = decide_answer(CallerAnswer(), AnswerContext(Q.CONSENT, True), RULES)
    assert (silent.outcome, silent.reason) == (N, AnswerReason.NO_INPUT)
    d = decide_answer(
        CallerAnswer(NluResult("affirm", 0.834)), AnswerContext(Q.CONSENT, True), RULES
    )
    assert d.evidence() == {
        "policy_outcome": "consent_granted",
        "policy_reason": "clear_yes",
        "question": "consent_question",
        "rules_version": "p-1",
        "intent": "affirm",
        "confidence_pct": 83,
        "via": "speech",
    }


def with_policy(old: str, new: str, version: str = "p-2") -> RuleSet:
    text = rules_text(version)
    assert old in text
    return parse_rules(text.replace(old, new), "p.yaml")


def test_inv13_thresholds_and_meanings_are_data_and_each_decision_names_its_version() -> None:
    stricter = with_policy("consent: 0.7,", "consent: 0.9,")
    assert read("affirm", 0.8, Q.CONSENT) == (G, None)
    assert read("affirm", 0.8, Q.CONSENT, rules=stricter) == (C, Confirm.CONSENT)
    d = decide_answer(
        CallerAnswer(NluResult("affirm", 0.8)), AnswerContext(Q.CONSENT, True), stricter
    )
    assert d.rules_version == "p-2"
    keys = with_policy('dtmf: {"1": consent, "2": refusal}', 'dtmf: {"5": consent, "9": refusal}')
    assert (
        decide_answer(CallerAnswer(digits="5"), AnswerContext(Q.CONSENT, True), keys).outcome is G
    )
    assert (
        decide_answer(CallerAnswer(digits="1"), AnswerContext(Q.CONSENT, True), keys).outcome is N
    )


def test_issue17_refusal_safety_is_a_data_change() -> None:
    """Confirming every unclear answer after marketing ("您是说不需要了，对吗？"), asked once."""
    safer = with_policy(
        "after_marketing: {no_means: refusal, unclassified: not_an_answer}",
        "after_marketing: {no_means: refusal, unclassified: confirm_refusal}",
    )
    assert read("nlu_fallback", 0.3, Q.AFTER_MARKETING, rules=safer) == (C, Confirm.REFUSAL)
    assert read("affirm", 0.9, Q.CONFIRM_REFUSAL, rules=safer) == (R, None)
    assert read("nlu_fallback", 0.3, Q.CONFIRM_REFUSAL, rules=safer) == (N, None)


def misheard(
    intent: str, confidence: float, question: Question, rules: RuleSet = RULES
) -> tuple[Outcome, Confirm | None]:
    """The answer as read when the recogniser itself did not hear it clearly."""
    d = decide_answer(
        CallerAnswer(NluResult(intent, confidence), heard_clearly=False),
        AnswerContext(question, True),
        rules,
    )
    if d.outcome is not Outcome.REFUSED:
        assert d.reason is AnswerReason.MISHEARD
    return d.outcome, d.confirm


def test_issue17_an_answer_not_heard_clearly_is_never_a_clear_one() -> None:
    """Whisper-base garbled "你们烦不烦啊，天天打" into "移民行步行行行行…", which the NLU took
    as a yes at confidence 1.0: what the recogniser did not hear clearly is confirmed, never
    consent (inv5) and never a DNC on a guess; refusal-like, it is asked about (inv6)."""
    assert read("affirm", 1.0, Q.CONSENT) == (G, None)
    assert misheard("affirm", 1.0, Q.CONSENT) == (C, Confirm.CONSENT)
    assert misheard("deny", 0.9, Q.CONSENT) == (C, Confirm.REFUSAL)
    assert misheard("refuse_contact", 0.95, Q.MENU) == (C, Confirm.REFUSAL)
    assert misheard("complaint", 0.9, Q.CONSENT) == (C, Confirm.CONSENT)  # as unclassified
    assert misheard("ask_product", 0.9, Q.AFTER_MARKETING) == (N, None)
    # the answer to the refusal confirmation is asked once: it decides, heard clearly or not
    assert misheard("affirm", 0.9, Q.CONFIRM_REFUSAL) == (R, None)
    # what a misheard answer gets after a question is data
    safer = with_policy(
        "after_marketing: {no_means: refusal, unclassified: not_an_answer}",
        "after_marketing: {no_means: refusal, unclassified: not_an_answer, "
        "misheard: confirm_refusal}",
    )
    assert misheard("ask_product", 0.9, Q.AFTER_MARKETING, safer) == (C, Confirm.REFUSAL)
    assert read("ask_product", 0.9, Q.AFTER_MARKETING, rules=safer) == (N, None)


@pytest.mark.parametrize(
    ("old", "new", "field"),
    [
        ("yes_intents: [affirm]", "yes_intents: [affirm, deny]", "consent_policy"),
        ("refusal: 0.5,", "refusal: 0.2,", "consent_policy.min_confidence"),
        ("consent: 0.7,", "consent: 1.7,", "consent_policy.min_confidence.consent"),
        ("marketing_other: {no_means: refusal}", "marketing_other: {yes_means: consent}", ""),
        ("    menu: {}\n", "", "consent_policy.questions"),
        ('"1": consent, "2": refusal', '"11": consent', "dtmf"),
        ("leaning_no: confirm_refusal", "leaning_no: confirm_consent", "leaning_no"),
        ("after_marketing: {no_means: refusal, unclassified: not_an_answer}",
         "after_marketing: {no_means: refusal, unclassified: confirm_consent}", ""),
        ("after_marketing: {no_means: refusal, unclassified: not_an_answer}",
         "after_marketing: {no_means: refusal, misheard: confirm_consent}", ""),
        ("  yes_intents: [affirm]\n", "", "consent_policy.yes_intents"),
    ],
)  # fmt: skip
def test_inv13_a_bad_consent_policy_is_rejected_with_its_line(
    old: str, new: str, field: str
) -> None:
    text = rules_text("bad")
    assert old in text
    with pytest.raises(RulesError) as info:
        parse_rules(text.replace(old, new), "p.yaml")
    issue = info.value.issues[0]
    assert field in issue.field and issue.line is not None and issue.line > 1, issue


def test_the_shipped_policy_confirms_before_it_takes_consent() -> None:
    shipped = load_rules_file(Settings().rules_path).rules
    policy = shipped.consent_policy
    assert policy.min_confidence.consent >= 0.7
    assert policy.meanings(Q.CONSENT).dtmf == {"1": "consent", "2": "refusal"}
    assert read("affirm", 0.65, Q.CONSENT, rules=shipped) == (C, Confirm.CONSENT)
    # issue 17: a garbled utterance after the pitch is asked about ("您是说不需要了，对吗？")
    assert misheard("ask_product", 0.9, Q.AFTER_MARKETING, shipped) == (C, Confirm.REFUSAL)


def offline(text: str, question: Question, rules: RuleSet = RULES) -> Outcome | None:
    """What ``text`` means when the NLU gave no intent: None if offline reading finds nothing."""
    nlu = offline_refusal(text, rules.consent_policy)
    if nlu is None:
        return None
    return decide_answer(CallerAnswer(nlu), AnswerContext(question, True), rules).outcome


@pytest.mark.parametrize("question", list(Question))
def test_inv6_nlu_down_a_do_not_call_phrase_is_still_a_refusal_anywhere(question: Question) -> None:
    for said in ("以后别再给我打电话了", "不要 再打了！", "你们别再联系我了。", "别给我打电话"):
        assert offline(said, question) is R, said
    d = decide_answer(
        CallerAnswer(offline_refusal("别再打了", RULES.consent_policy)),
        AnswerContext(question, True),
        RULES,
    )
    assert d.reason is AnswerReason.REFUSAL_INTENT  # at the consent question too: DNC


@pytest.mark.parametrize("said", ["好的可以", "同意", "嗯", "不需要", "我想查账单", "", "  "])
def test_inv5_nlu_down_nothing_but_a_refusal_is_read_offline(said: str) -> None:
    for question in Question:
        assert offline(said, question) is None, (said, question)


def test_offline_refusal_phrases_are_rules_data() -> None:
    own = with_policy(
        "  unclear:", '  offline_refusal_phrases: ["拉黑我"]\n  unclear:', version="p-3"
    )
    assert offline("把我拉黑我吧", Q.MENU, own) is R
    assert offline("别再打了", Q.MENU, own) is None  # the file's list replaces the default
    with pytest.raises(RulesError) as info:
        with_policy("  unclear:", '  offline_refusal_phrases: ["不", "别再打"]\n  unclear:')
    assert "offline_refusal_phrases" in info.value.issues[0].field
