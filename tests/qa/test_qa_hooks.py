"""The orchestrator's QA hooks: the bot gate, live alerts over Redis Streams, post-call results."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import sqlalchemy as sa
from helpers.wait import eventually
from prometheus_client import CollectorRegistry

from qa.alerts import AlertCounter, LiveAlert, RedisAlertStream
from qa.calls import Turn
from qa.compiled import CompiledRules
from qa.hooks import AsrFinal, QaHooks
from qa.reload import QaRulesHolder
from qa.rules import Speaker
from qa.store import QaResultStore
from qa.tables import qa_results
from qa.verdict import SpeechContext
from records.evidence_store import SqlEvidenceLog

CTX = SpeechContext("call-1", purpose="marketing", campaign="c", flow="f", agent_id="A7")


def hooks_for(
    shipped: CompiledRules, stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> QaHooks:
    return QaHooks(
        QaRulesHolder(shipped), stream, evidence, QaResultStore(evidence.engine, evidence)
    )


async def test_a_prohibited_bot_sentence_is_blocked_flagged_and_alerted(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    hooks = hooks_for(shipped, redis_stream, evidence)
    await hooks.start()
    try:
        ok = hooks.check_bot_sentence("本产品不保本不保收益，请您谨慎选择。", CTX)
        assert ok.allowed and ok.speak == ok.text
        verdict = hooks.check_bot_sentence("这个产品保本保收益，放心买。", CTX)
        assert verdict.blocked and verdict.speak == shipped.rules.bot_fallback
        assert not shipped.matcher.scan(verdict.speak)
        await hooks.drain()
    finally:
        await hooks.close()
    alerts = [a for _, a in await redis_stream.read()]
    assert alerts and all(a.blocked and a.speaker == "bot" for a in alerts)
    (entry,) = [
        e for e in evidence.entries(call_id="call-1") if e.kind == "qa_bot_sentence_blocked"
    ]
    assert entry.payload["rules_version"] == shipped.version
    assert "保本" not in str(entry.payload)  # the sentence's digest, not its text
    assert evidence.verify().ok


async def test_a_live_hit_by_an_agent_is_alerted_within_a_second_and_counted(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    registry = CollectorRegistry()
    counter = AlertCounter(redis_stream, registry)
    counter.start()
    hooks = hooks_for(shipped, redis_stream, evidence)
    await hooks.start()
    try:
        # until the counter has found where the stream ends
        await eventually(lambda: counter.last_id is not None, 5.0)
        assert hooks.heard(AsrFinal(Speaker.CALLER, "这个保本吗", 500, 1500), CTX) == ()
        fed = time.monotonic()
        (alert,) = hooks.heard(AsrFinal(Speaker.AGENT, "放心，这个零分险", 10_000, 12_000), CTX)
        got: list[tuple[str, LiveAlert]] = []
        while not got and time.monotonic() - fed < 1.0:
            got = await redis_stream.read(block_ms=100)
        assert got, "no alert on the stream within one second"
        _, read = got[0]
        assert read == alert
        assert (read.speaker, read.rule, read.phrase) == ("agent", "promise_no_risk", "零分险")
        assert 10_000 < read.offset_ms < 12_000 and read.rules_version == shipped.version
        labels = {"category": "prohibited_promise", "speaker": "agent"}
        await eventually(
            lambda: registry.get_sample_value("ivr_qa_live_alerts_total", labels) == 1.0, 5.0
        )
    finally:
        await hooks.close()
        await counter.stop()


async def test_qa_failures_never_reach_the_call(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    class Broken(QaRulesHolder):
        def at(self, now: datetime) -> CompiledRules:
            raise RuntimeError("rules store gone")

    hooks = QaHooks(
        Broken(shipped), redis_stream, evidence, QaResultStore(evidence.engine, evidence)
    )
    assert hooks.check_bot_sentence("稳赚不赔", CTX).allowed  # QA down: never blocks the call
    assert hooks.heard(AsrFinal(Speaker.AGENT, "稳赚不赔", 0), CTX) == ()
    assert await hooks.finish_call(CTX, [Turn(Speaker.BOT, "您好", 0)], datetime.now(UTC)) is None


async def test_finish_call_stores_the_result_and_chains_it(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    hooks = hooks_for(shipped, redis_stream, evidence)
    turns = [Turn(Speaker.AGENT, "您好，这个产品稳赚不赔", 1000, 4000)]
    started = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    result = await hooks.finish_call(CTX, turns, started)
    assert result is not None and not result.passed
    again = await hooks.finish_call(CTX, turns, started)  # a re-run replaces the row
    assert again is not None
    with evidence.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(qa_results)).scalar() == 1
    (stored,) = QaResultStore(evidence.engine, evidence).get("call-1")
    assert stored.score == result.score and stored.rules_version == shipped.version
    assert tuple(stored.findings[0][k] for k in ("speaker", "rule", "phrase")) == (
        "agent",
        "promise_no_loss",
        "稳赚不赔",
    )
    chained = [e for e in evidence.entries(call_id="call-1") if e.kind == "qa_result"]
    assert len(chained) == 2 and chained[-1].payload["findings"][0]["offset_ms"] > 1000
    assert evidence.verify().ok


class StuckEvidence:
    """An evidence sink whose writes hang until released (a slow disk, a locked database)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.written = 0

    async def append(self, kind: object, *, call_id: str | None, payload: object) -> None:
        await self.release.wait()
        self.written += 1


async def test_an_alert_never_waits_behind_the_evidence_of_a_blocked_sentence(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    stuck = StuckEvidence()
    hooks = QaHooks(
        QaRulesHolder(shipped),
        redis_stream,
        stuck,
        QaResultStore(evidence.engine, evidence),
    )
    await hooks.start()
    try:
        assert hooks.check_bot_sentence("这个产品保本保收益，放心买。", CTX).blocked
        await eventually(lambda: hooks.published >= 1, what="the alert, evidence still stuck")
        assert stuck.written == 0
        stuck.release.set()
        await hooks.drain()
        assert stuck.written == 1
    finally:
        await hooks.close()


MODEL_ONLY = "咱们这个年金计划到期您放进去的都能拿回来，还有额外的搜益。"  # the rules miss it


async def test_live_alerts_take_the_post_call_verdict_model_review_hits_included(
    redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    from qa.calls import FindingKind, inspect_call
    from qa.model import DEFAULT_MODEL_PATH, load_model
    from qa.reload import DEFAULT_RULES_PATH, load_rules_file

    both = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    hooks = hooks_for(both, redis_stream, evidence)
    await hooks.start()
    try:
        [alert] = hooks.heard(AsrFinal(Speaker.AGENT, MODEL_ONLY, 4_000, 9_000), CTX)
        # a bot sentence the model flags is spoken (never blocked), and flagged the same way
        verdict = hooks.check_bot_sentence(MODEL_ONLY, CTX, offset_ms=12_000)
        assert verdict.allowed and verdict.speak == MODEL_ONLY and verdict.model_hits
        await hooks.drain()
    finally:
        await hooks.close()
    post_call = inspect_call([Turn(Speaker.AGENT, MODEL_ONLY, 4_000, 9_000)], CTX, both)
    [finding] = [f for f in post_call.findings if f.kind is FindingKind.MODEL]
    assert (alert.kind, alert.rule, alert.category) == ("model", finding.rule, finding.category)
    assert (alert.severity, alert.phrase, alert.offset_ms) == ("minor", MODEL_ONLY, 4_000)
    assert not alert.blocked
    read = [a for _, a in await redis_stream.read()]
    assert [a.kind for a in read] == ["model", "model"]
    assert [a.speaker for a in read] == ["agent", "bot"]
    assert LiveAlert.from_fields(read[0].to_fields()) == read[0]


def test_a_line_seen_again_gets_the_same_whole_check_from_the_cache() -> None:
    from qa.compiled import LINE_CACHE_CHARS, LINE_CACHE_MAX
    from qa.model import DEFAULT_MODEL_PATH, load_model
    from qa.reload import DEFAULT_RULES_PATH, load_rules_file
    from qa.second_stage import check_line

    both = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    for text in (MODEL_ONLY, "这个产品保本保收益，放心买。", "您好，请问有什么可以帮您？"):
        for speaker in (Speaker.AGENT, Speaker.BOT, None):
            first = both.check(text, speaker)
            assert both.check(text, speaker) is first  # kept
            assert first == check_line(both.matcher, both.stage, text, speaker)
    long = "保本" + "好" * LINE_CACHE_CHARS
    assert both.check(long).hits and (long, None) not in both._lines  # too long to keep
    for i in range(LINE_CACHE_MAX + 10):
        both.check(f"第{i}句")
    assert len(both._lines) == LINE_CACHE_MAX  # bounded: the oldest went first
    assert (MODEL_ONLY, Speaker.AGENT) not in both._lines


async def test_an_agent_legs_turns_join_the_calls_result_after_the_leg_closes(
    shipped: CompiledRules, redis_stream: RedisAlertStream, evidence: SqlEvidenceLog
) -> None:
    hooks = hooks_for(shipped, redis_stream, evidence)
    await hooks.start()
    ctx = SpeechContext("call-leg-1", purpose="service", agent_id="senior-1001@default")
    try:
        hooks.agent_leg_opened(ctx.call_id)
        finishing = asyncio.ensure_future(
            hooks.finish_call(
                ctx, [Turn(Speaker.BOT, "您好，这里是测试银行。", 0, 2_000)], datetime.now(UTC)
            )
        )
        await asyncio.sleep(0)
        assert not finishing.done()  # it waits for the leg's last final
        alerts = hooks.keep_agent_turn(
            AsrFinal(Speaker.AGENT, "这个产品保本保收益，放心买。", 30_000, 33_000), ctx
        )
        assert alerts and {a.agent_id for a in alerts} == {"senior-1001@default"}
        hooks.agent_leg_closed(ctx.call_id)
        result = await asyncio.wait_for(finishing, 10)
    finally:
        await hooks.close()
    assert result is not None and not result.passed
    agent = [f for f in result.findings if f.speaker is Speaker.AGENT]
    assert agent and {f.turn for f in agent} == {1} and (agent[0].offset_ms or 0) >= 30_000
