"""The QA hooks a call orchestrator calls (adapter): the bot gate, live finals, the call's end.

Built once per process by :func:`qa.service.build_hooks`; every method is safe to call from
the call's task and never raises into the call:

- :meth:`QaHooks.check_bot_sentence` (sync, microseconds) before a bot sentence is
  synthesised: a prohibited sentence is blocked, the safe fallback is returned to be spoken
  instead, and it is flagged (live alert + ``qa_bot_sentence_blocked`` evidence, in the
  background, and a ``blocked`` finding kept for the call's QA result). An internal QA error
  lets the sentence through: QA never blocks a call except by stopping a prohibited bot
  sentence.
- :meth:`QaHooks.heard` for each ASR final (caller, agent or bot channel, with its offset into
  the recording): a hit by the bot or an agent raises a :class:`qa.alerts.LiveAlert`, published
  on the alert stream by a background task (well within a second) of its own: an alert never
  waits behind the evidence of a blocked sentence, which another task writes.
- :meth:`QaHooks.finish_call` with the call's ordered turns after it ended: whole-call QA
  (prohibited wording, mandatory statements, score) stored in SQL and as evidence, with a
  finding for each bot sentence the gate stopped during the call (speaker bot, rule, the rules
  version that stopped it, kind ``blocked``; never a turn, since it was never spoken).

Logs carry call ids and rule ids only, never transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ivr.crypto import sm3
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.supervise import cancel_and_wait
from qa.alerts import AlertSink, LiveAlert
from qa.calls import (
    SCORED,
    CallQa,
    Finding,
    Turn,
    blocked_findings,
    hit_offset_ms,
    inspect_call,
)
from qa.compiled import CompiledRules
from qa.matcher import Hit
from qa.reload import QaRulesHolder
from qa.rules import Speaker
from qa.store import QaResultStore
from qa.verdict import BotVerdict, SpeechContext, check_bot_sentence
from records.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUE_MAX = 10_000
STOPPED_CALLS_MAX = 10_000  # calls whose blocked sentences wait for the call's end
STOPPED_PER_CALL_MAX = 1_000  # blocked findings kept per call (a runaway bot: the first ones)


@dataclass(frozen=True, slots=True)
class AsrFinal:
    """One final recognition result during a call."""

    speaker: Speaker
    text: str
    offset_ms: int  # start of the utterance in the call's recording
    end_ms: int | None = None


class QaHooks:
    """QA for running calls: bot gate, live inspection, post-call result."""

    def __init__(
        self,
        rules: QaRulesHolder,
        alerts: AlertSink,
        evidence: EvidenceSink,
        results: QaResultStore,
        *,
        clock: Callable[[], float] = time.time,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._rules = rules
        self._alerts = alerts
        self._evidence = evidence
        self._results = results
        self._clock = clock
        self._now = now
        # two queues, two tasks: an alert never waits behind an evidence write (SQL, fsync)
        self._queue: asyncio.Queue[LiveAlert] = asyncio.Queue(QUEUE_MAX)
        self._blocked: asyncio.Queue[tuple[BotVerdict, SpeechContext]] = asyncio.Queue(QUEUE_MAX)
        self._tasks: list[asyncio.Task[None]] = []
        # call id -> the findings of its blocked bot sentences, until the call's end; bounded
        # (a call that never reports its end is forgotten, oldest first)
        self._stopped: OrderedDict[str, list[Finding]] = OrderedDict()
        self.dropped = 0
        self.published = 0

    @property
    def rules(self) -> CompiledRules:
        return self._rules.at(self._now())

    # -- the bot gate ------------------------------------------------------------------------

    def check_bot_sentence(
        self, text: str, context: SpeechContext, *, offset_ms: int = 0
    ) -> BotVerdict:
        """Before synthesis: allow, or block and give the fallback (flagged in the background;
        ``offset_ms``: where in the recording it would have been said)."""
        try:
            rules = self.rules
            verdict = check_bot_sentence(text, context, rules)
        except Exception:  # QA failing never blocks a call
            log.exception("call %s: QA bot gate failed; the sentence is spoken", context.call_id)
            return BotVerdict(True, text, text, (), "unavailable")
        if verdict.blocked:
            log.warning(
                "call %s: bot sentence blocked by QA rules %s (%s)",
                context.call_id,
                verdict.rules_version,
                ", ".join(sorted({h.rule_id for h in verdict.hits})),
            )
            heard = self._clock()
            for hit in verdict.hits:
                self._enqueue(
                    self._alert(context, Speaker.BOT, offset_ms, hit, rules, heard, blocked=True)
                )
            self._keep_stopped(
                context.call_id, blocked_findings(verdict.hits, offset_ms, verdict.rules_version)
            )
            try:
                self._blocked.put_nowait((verdict, context))
            except asyncio.QueueFull:
                self.dropped += 1
                log.error("QA evidence queue full: a blocked sentence's evidence was dropped")
        return verdict

    def _keep_stopped(self, call_id: str, findings: Sequence[Finding]) -> None:
        kept = self._stopped.get(call_id)
        if kept is None:
            kept = self._stopped[call_id] = []
            while len(self._stopped) > STOPPED_CALLS_MAX:
                self._stopped.popitem(last=False)
        kept.extend(findings[: STOPPED_PER_CALL_MAX - len(kept)])

    # -- live finals -------------------------------------------------------------------------

    def heard(self, final: AsrFinal, context: SpeechContext) -> tuple[LiveAlert, ...]:
        """One ASR final: alerts for the bot's or an agent's prohibited wording (caller: none)."""
        if final.speaker not in SCORED or not final.text:
            return ()
        heard = self._clock()
        try:
            rules = self.rules
            hits = rules.matcher.scan(final.text, final.speaker)
        except Exception:
            log.exception("call %s: live QA failed for one final", context.call_id)
            return ()
        turn = Turn(final.speaker, final.text, final.offset_ms, final.end_ms)
        alerts = tuple(
            self._alert(context, final.speaker, hit_offset_ms(turn, h), h, rules, heard)
            for h in hits
        )
        for alert in alerts:
            self._enqueue(alert)
        return alerts

    def _alert(
        self,
        context: SpeechContext,
        speaker: Speaker,
        offset_ms: int,
        hit: Hit,
        rules: CompiledRules,
        heard: float,
        *,
        blocked: bool = False,
    ) -> LiveAlert:
        return LiveAlert(
            call_id=context.call_id,
            speaker=speaker.value,
            offset_ms=offset_ms,
            rule=hit.rule_id,
            category=hit.category.value,
            severity=hit.severity.value,
            phrase=hit.said,
            wording=hit.wording,
            rules_version=rules.version,
            heard_at=heard,
            raised_at=self._clock(),
            campaign=context.campaign or "",
            flow=context.flow or "",
            agent_id=context.agent_id or "",
            blocked=blocked,
        )

    def _enqueue(self, item: LiveAlert) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("QA alert queue full: an alert was dropped")

    # -- the call's end ----------------------------------------------------------------------

    async def finish_call(
        self, context: SpeechContext, turns: Sequence[Turn], started_at: datetime
    ) -> CallQa | None:
        """Whole-call QA from the orchestrator's turns and the bot sentences blocked during the
        call, stored (source ``call``); ``None`` if QA failed (logged, never raised)."""
        stopped = self._stopped.pop(context.call_id, [])
        try:
            result = inspect_call(turns, context, self.rules, stopped)
            await self._results.save(result, source="call", call_started_at=started_at)
        except Exception:
            log.exception("call %s: post-call QA failed", context.call_id)
            return None
        log.info(
            "call %s: QA score %d (%s), rules %s",
            context.call_id,
            result.score,
            "pass" if result.passed else "FAIL",
            result.rules_version,
        )
        return result

    # -- the publishers ----------------------------------------------------------------------

    async def _publish(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self._alerts.publish(alert)
                self.published += 1
            except Exception:  # supervised: log and go on with the next
                log.exception("QA publisher: could not publish an alert")
            finally:
                self._queue.task_done()

    async def _write_evidence(self) -> None:
        while True:
            verdict, ctx = await self._blocked.get()
            try:
                await self._evidence.append(
                    EvidenceKind.QA_BOT_SENTENCE_BLOCKED,
                    call_id=ctx.call_id,
                    payload={
                        "rules_version": verdict.rules_version,
                        "rules": sorted({h.rule_id for h in verdict.hits}),
                        "categories": sorted({h.category.value for h in verdict.hits}),
                        "sentence_sm3": sm3(verdict.text.encode()).hex(),
                        "spoken_instead_sm3": sm3(verdict.speak.encode()).hex(),
                    },
                )
            except Exception:  # supervised: log and go on with the next
                log.exception("QA: could not write a blocked sentence's evidence")
            finally:
                self._blocked.task_done()

    async def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [
                loop.create_task(self._publish()),
                loop.create_task(self._write_evidence()),
            ]

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until everything queued so far was published (tests, shutdown)."""
        if self._tasks:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.gather(self._queue.join(), self._blocked.join()), timeout_s
                )

    async def close(self) -> None:
        await self.drain()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
