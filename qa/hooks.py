"""The QA hooks a call orchestrator calls (adapter): the bot gate, live finals, the call's end.

Built once per process by :func:`qa.service.build_hooks`; every method is safe to call from
the call's task and never raises into the call:

- :meth:`QaHooks.check_bot_sentence` (sync, microseconds) before a bot sentence is
  synthesised: a prohibited sentence is blocked, the safe fallback is returned to be spoken
  instead, and it is flagged (live alert + ``qa_bot_sentence_blocked`` evidence, in the
  background). An internal QA error lets the sentence through: QA never blocks a call except
  by stopping a prohibited bot sentence.
- :meth:`QaHooks.heard` for each ASR final (caller, agent or bot channel, with its offset into
  the recording): a hit by the bot or an agent raises a :class:`qa.alerts.LiveAlert`, published
  on the alert stream by a supervised background task (well within a second).
- :meth:`QaHooks.finish_call` with the call's ordered turns after it ended: whole-call QA
  (prohibited wording, mandatory statements, score) stored in SQL and as evidence.

Logs carry call ids and rule ids only, never transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ivr.crypto import sm3
from ivr.evidence import EvidenceKind, EvidenceSink
from qa.alerts import AlertSink, LiveAlert
from qa.calls import SCORED, CallQa, Turn, hit_offset_ms, inspect_call
from qa.compiled import CompiledRules
from qa.matcher import Hit
from qa.reload import QaRulesHolder
from qa.rules import Speaker
from qa.store import QaResultStore
from qa.verdict import BotVerdict, SpeechContext, check_bot_sentence
from records.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUE_MAX = 10_000


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
        self._queue: asyncio.Queue[LiveAlert | tuple[str, BotVerdict, SpeechContext]] = (
            asyncio.Queue(QUEUE_MAX)
        )
        self._task: asyncio.Task[None] | None = None
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
            self._enqueue(("blocked", verdict, context))
        return verdict

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

    def _enqueue(self, item: LiveAlert | tuple[str, BotVerdict, SpeechContext]) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.dropped += 1
            log.error("QA alert queue full: an alert was dropped")

    # -- the call's end ----------------------------------------------------------------------

    async def finish_call(
        self, context: SpeechContext, turns: Sequence[Turn], started_at: datetime
    ) -> CallQa | None:
        """Whole-call QA from the orchestrator's turns, stored (source ``call``); ``None`` if
        QA failed (logged, never raised into the call)."""
        try:
            result = inspect_call(turns, context, self.rules)
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

    # -- the publisher -----------------------------------------------------------------------

    async def _publish(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, LiveAlert):
                    await self._alerts.publish(item)
                    self.published += 1
                else:
                    _, verdict, ctx = item
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
                log.exception("QA publisher: could not publish an alert or evidence")
            finally:
                self._queue.task_done()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._publish())

    async def drain(self, timeout_s: float = 5.0) -> None:
        """Wait until everything queued so far was published (tests, shutdown)."""
        if self._task is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout_s)

    async def close(self) -> None:
        await self.drain()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
