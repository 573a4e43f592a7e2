"""Whole-call QA: mandatory statements per purpose, hits with speaker and offset, the score."""

from __future__ import annotations

from qa.calls import FindingKind, Turn, inspect_call
from qa.compiled import CompiledRules
from qa.rules import Speaker
from qa.verdict import SpeechContext

B, A, C = Speaker.BOT, Speaker.AGENT, Speaker.CALLER
CTX = SpeechContext("c1", purpose="marketing", institution="示例银行", agent_id="AI-0001")
DISCLOSURE = "您好，这里是示例银行智能客服，工号AI-0001。为保障您的权益，本次通话将被录音。"
CONSENT = "接下来想占用您一分钟，向您介绍稳盈一年期理财产品，请问您同意吗？"
PITCH = "我行近期发行稳盈一年期理财产品，风险等级为二级，业绩比较基准不代表实际收益。"
WARNING = "理财有风险，投资需谨慎。"


def marketing_call(*, warning: Turn | None = None, extra: tuple[Turn, ...] = ()) -> list[Turn]:
    turns = [
        Turn(B, DISCLOSURE, 0, 6000, kind="disclosure"),
        Turn(B, CONSENT, 6500, 11000, kind="consent"),
        Turn(C, "可以你说吧", 11500, 12500),
        Turn(B, PITCH, 13000, 20000, kind="marketing"),
    ]
    turns.append(warning or Turn(B, WARNING, 20500, 23000, kind="prompt"))
    return turns + list(extra)


def kinds(shipped: CompiledRules, turns: list[Turn], ctx: SpeechContext = CTX) -> list[str]:
    return [f"{f.rule}:{f.kind.value}" for f in inspect_call(turns, ctx, shipped).findings]


def test_a_compliant_marketing_call_passes(shipped: CompiledRules) -> None:
    result = inspect_call(marketing_call(), CTX, shipped)
    assert (result.score, result.passed, result.findings) == (100, True, ())
    assert result.rules_version == shipped.version


def test_a_call_without_its_risk_warning_fails(shipped: CompiledRules) -> None:
    turns = marketing_call()[:-1]
    result = inspect_call(turns, CTX, shipped)
    assert not result.passed
    assert kinds(shipped, turns) == ["risk_warning:missing"]


def test_a_truncated_or_cut_off_risk_warning_is_incomplete(shipped: CompiledRules) -> None:
    short = marketing_call(warning=Turn(B, "理财有风险", 20500, 21500, kind="risk_warning"))
    assert kinds(shipped, short) == ["risk_warning:incomplete"]
    cut = marketing_call(warning=Turn(B, WARNING, 20500, 23000, kind="risk_warning", cut_off=True))
    assert kinds(shipped, cut) == ["risk_warning:incomplete"]


def test_a_risk_warning_talked_over_by_the_caller_fails(shipped: CompiledRules) -> None:
    over = marketing_call(extra=(Turn(C, "我不需要", 21000, 22000),))
    assert kinds(shipped, over) == ["risk_warning:talked_over"]


def test_marketing_before_consent_and_a_late_disclosure_fail(shipped: CompiledRules) -> None:
    t = marketing_call()
    no_consent = [t[0], t[3], t[4]]
    assert kinds(shipped, no_consent) == ["consent_question:missing"]
    late = [Turn(B, "您好", 0, 500), Turn(B, "请问您是张先生吗", 600, 1500), *t[1:4], t[0], t[4]]
    assert "disclosure:late" in kinds(shipped, late)
    none = t[1:]
    assert "disclosure:missing" in kinds(shipped, none)


def test_agent_speech_without_kinds_is_classified_by_content(shipped: CompiledRules) -> None:
    ctx = SpeechContext("c2", purpose="marketing", institution="示例银行", agent_id="3021")
    turns = [
        Turn(A, "您好，我是示例银行客户经理，工号三零二一，本次通话全程录音。", 0, 5000),
        Turn(A, "想给您推荐一款理财产品，年化收益率百分之三，这个产品保本。", 6000, 12000),
    ]
    found = inspect_call(turns, ctx, shipped).findings
    assert [(f.rule, f.kind) for f in found] == [
        ("consent_question", FindingKind.MISSING),
        ("promise_principal", FindingKind.HIT),
        ("risk_warning", FindingKind.MISSING),
    ]
    hit = found[1]
    assert hit.speaker is A and 6000 < (hit.offset_ms or 0) < 12000 and hit.phrase == "保本"


def test_the_caller_is_never_scored(shipped: CompiledRules) -> None:
    turns = [*marketing_call(), Turn(C, "你们这个保本吗，是不是零风险", 24000, 26000)]
    assert inspect_call(turns, CTX, shipped).passed


def test_a_service_call_needs_only_the_disclosure(shipped: CompiledRules) -> None:
    ctx = SpeechContext("c3", purpose="service", institution="示例银行", agent_id="AI-0001")
    turns = [Turn(B, DISCLOSURE, 0, 5000), Turn(B, "请问有什么可以帮您", 5500, 7000)]
    assert inspect_call(turns, ctx, shipped).passed
    assert not inspect_call(turns[1:], ctx, shipped).passed
