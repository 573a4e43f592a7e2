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
