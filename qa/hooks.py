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
  the recording): a hit by the bot or an agent raises a :class:`qa.alerts.LiveAlert` (the same
  whole check as the post-call result: rule hits, then the model's review hits), published
  on the alert stream by a background task (well within a second) of its own: an alert never
  waits behind the evidence of a blocked sentence, which another task writes.
- :meth:`QaHooks.keep_agent_turn` for each final of a human agent's leg
  (:mod:`qa.agent_forks`), inspected live like any final and kept for the call's result;
  :meth:`QaHooks.agent_leg_opened`/:meth:`QaHooks.agent_leg_closed` bracket the leg.
- :meth:`QaHooks.finish_call` with the call's ordered turns after it ended: whole-call QA
  (prohibited wording, mandatory statements, score) stored in SQL and as evidence, with a
  finding for each bot sentence the gate stopped during the call (speaker bot, rule, the rules
  version that stopped it, kind ``blocked``; never a turn, since it was never spoken), and the
  agent legs' turns merged in by time (it waits, at most ``AGENT_LEG_WAIT_S``, for a leg still
  followed: its last final comes after the hang-up).

Logs carry call ids and rule ids only, never transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from ivr.crypto import sm3
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.supervise import cancel_and_wait, wait_event
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
from qa.rules import Severity, Speaker
from qa.second_stage import ModelHit
from qa.store import QaResultStore
from qa.verdict import BotVerdict, SpeechContext, check_bot_sentence
from records.timeutil import utcnow

log = logging.getLogger(__name__)
QUEUE_MAX = 10_000
STOPPED_CALLS_MAX = 10_000  # calls whose blocked sentences wait for the call's end
STOPPED_PER_CALL_MAX = 1_000  # blocked findings kept per call (a runaway bot: the first ones)
_T = TypeVar("_T")
AGENT_LEG_WAIT_S = 5.0  # at a call's end, how long its agent legs' last finals are waited for


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
        # call id -> its agent legs' turns (same bounds), and the legs still followed
        self._agent_turns: OrderedDict[str, list[Turn]] = OrderedDict()
        self._legs: dict[str, int] = {}
        self._legs_done: dict[str, asyncio.Event] = {}
        self.dropped = 0
        self.published = 0

    @property
    def rules(self) -> CompiledRules:
        return self._rules.at(self._now())

    @property
    def results(self) -> QaResultStore:
        """Where the calls' QA results are stored."""
        return self._results

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
        if verdict.model_hits:  # spoken or not, the model's review flags (never a block)
            heard = self._clock()
            for m in verdict.model_hits:
                self._enqueue(self._review(context, Speaker.BOT, offset_ms, m, rules, heard))
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
        _keep(self._stopped, call_id, findings)

    # -- live finals -------------------------------------------------------------------------

    def heard(self, final: AsrFinal, context: SpeechContext) -> tuple[LiveAlert, ...]:
        """One ASR final: alerts for the bot's or an agent's prohibited wording (caller: none)."""
        if final.speaker not in SCORED or not final.text:
            return ()
        heard = self._clock()
        try:
            rules = self.rules
            line = rules.check(final.text, final.speaker)  # the post-call result's verdict
        except Exception:
            log.exception("call %s: live QA failed for one final", context.call_id)
            return ()
        turn = Turn(final.speaker, final.text, final.offset_ms, final.end_ms)
        alerts = tuple(
            self._alert(context, final.speaker, hit_offset_ms(turn, h), h, rules, heard)
            for h in line.hits
        ) + tuple(
            self._review(context, final.speaker, final.offset_ms, m, rules, heard)
            for m in line.model_hits
        )
        for alert in alerts:
            self._enqueue(alert)
        return alerts

    # -- agent legs --------------------------------------------------------------------------

    def agent_leg_opened(self, call_id: str) -> None:
        """A human agent's leg of ``call_id`` is followed from now on."""
        self._legs[call_id] = self._legs.get(call_id, 0) + 1
        self._legs_done.setdefault(call_id, asyncio.Event()).clear()

    def agent_leg_closed(self, call_id: str) -> None:
        """It is no longer followed (its fork closed, or it never came)."""
        left = self._legs.get(call_id, 1) - 1
        if left > 0:
            self._legs[call_id] = left
            return
        self._legs.pop(call_id, None)
        done = self._legs_done.pop(call_id, None)
        if done is not None:
            done.set()

    def keep_agent_turn(self, final: AsrFinal, context: SpeechContext) -> tuple[LiveAlert, ...]:
        """One final of an agent's leg: inspected live (:meth:`heard`) and kept for the
        call's result."""
        _keep(
            self._agent_turns,
            context.call_id,
            [Turn(final.speaker, final.text, final.offset_ms, final.end_ms)],
        )
        return self.heard(final, context)

    async def _agent_turns_of(self, call_id: str) -> list[Turn]:
        done = self._legs_done.get(call_id)
        if done is not None and not await wait_event(done, AGENT_LEG_WAIT_S):
            log.warning("call %s: an agent leg is still followed; QA without its rest", call_id)
        return self._agent_turns.pop(call_id, [])

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
        return self._live_alert(
            context, speaker, offset_ms, rules, heard,
            rule=hit.rule_id, category=hit.category.value, severity=hit.severity.value,
            phrase=hit.said, wording=hit.wording, blocked=blocked,
        )  # fmt: skip

    def _review(
        self,
        context: SpeechContext,
        speaker: Speaker,
        offset_ms: int,
        hit: ModelHit,
        rules: CompiledRules,
        heard: float,
    ) -> LiveAlert:
        """A model hit as a live alert, as its post-call finding (:func:`qa.calls.model_finding`)
        reads: minor, the model version as rule, the sentence as phrase, kind ``model``."""
        return self._live_alert(
            context, speaker, offset_ms, rules, heard,
            rule=hit.model_version, category=hit.category.value,
            severity=Severity.MINOR.value, phrase=hit.phrase, wording="", kind="model",
        )  # fmt: skip

    def _live_alert(
        self,
        context: SpeechContext,
        speaker: Speaker,
        offset_ms: int,
        rules: CompiledRules,
        heard: float,
        **what: Any,
    ) -> LiveAlert:
        """The call's side of every live alert; ``what`` is the hit's side."""
        return LiveAlert(
            call_id=context.call_id,
            speaker=speaker.value,
            offset_ms=offset_ms,
            rules_version=rules.version,
            heard_at=heard,
            raised_at=self._clock(),
            campaign=context.campaign or "",
            flow=context.flow or "",
            agent_id=context.agent_id or "",
            **what,
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
        agent = await self._agent_turns_of(context.call_id)
        if agent:  # each side in its own order, merged by when it was said
            turns = list(heapq.merge(turns, agent, key=lambda t: t.start_ms))
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


def _keep(kept: OrderedDict[str, list[_T]], call_id: str, items: Sequence[_T]) -> None:
    """Keep ``items`` for ``call_id`` until its end: at most ``STOPPED_CALLS_MAX`` calls (the
    oldest forgotten) and ``STOPPED_PER_CALL_MAX`` items a call (the first ones)."""
    mine = kept.get(call_id)
    if mine is None:
        mine = kept[call_id] = []
        while len(kept) > STOPPED_CALLS_MAX:
            kept.popitem(last=False)
    mine.extend(items[: STOPPED_PER_CALL_MAX - len(mine)])
