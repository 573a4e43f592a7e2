"""QA on the orchestrator's side of a call (adapter): :class:`flows.ports.SpeechInspection`
over :class:`qa.hooks.QaHooks`.

:class:`CallInspection` is what :func:`qa.service.build_call_qa` gives the call composition
root: the bot gate before synthesis (a prohibited sentence becomes the rules' safe fallback,
flagged with evidence and a live alert), every caller/agent ASR final to live inspection, and
whole-call QA of the call's turns at its end (SQL + evidence, with the rules version). It also
owns what it runs: the QA rules watcher (hot reload in the call process) and the alert
publisher. It knows the calls it inspects (:meth:`CallInspection.running`: the call and where
its recording is now), so the agent-leg follower (:mod:`qa.agent_forks`) forks only the agent
legs of this process's calls, and takes their finals (:meth:`CallInspection.agent_said`: live,
and kept for the call's result). :class:`QaOff` is the explicit choice ``IVR_QA_CALLS=false``
(logged where chosen, shown by ``ivr doctor``). Nothing here logs a transcript.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Protocol

from flows.ports import InspectedCall, SpokenTurn
from qa.calls import Turn
from qa.hooks import AsrFinal, QaHooks
from qa.reload import QaRulesWatcher
from qa.rules import Speaker
from qa.verdict import SpeechContext

log = logging.getLogger(__name__)
RUNNING_MAX = 10_000  # calls remembered until their end (one never ending: the oldest dropped)


class _Closable(Protocol):
    async def aclose(self) -> None: ...


def speech_context(call: InspectedCall) -> SpeechContext:
    return SpeechContext(
        call_id=call.call_id,
        purpose=call.purpose,
        campaign=call.campaign,
        flow=call.flow,
        agent_id=call.bot_id,
        institution=call.institution,
    )


def qa_turn(turn: SpokenTurn) -> Turn:
    return Turn(
        Speaker(turn.speaker),
        turn.text,
        turn.start_ms,
        turn.end_ms,
        kind=turn.kind,
        cut_off=turn.cut_off,
        talked_over=turn.talked_over,
    )


class CallInspection:
    """:class:`flows.ports.SpeechInspection` over :class:`QaHooks` (started: alerts publish)."""

    enabled = True

    def __init__(
        self,
        hooks: QaHooks,
        watcher: QaRulesWatcher | None,
        alerts: _Closable | None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hooks = hooks
        self._watcher = watcher
        self._alerts = alerts
        self._clock = clock
        # call id -> the call and when (clock) its recording began: offset 0 of its turns
        self._running: OrderedDict[str, tuple[InspectedCall, float]] = OrderedDict()

    def _seen(self, call: InspectedCall, offset_ms: int) -> None:
        if call.call_id not in self._running:
            self._running[call.call_id] = (call, self._clock() - offset_ms / 1000)
            while len(self._running) > RUNNING_MAX:
                self._running.popitem(last=False)

    def running(self, call_id: str) -> tuple[InspectedCall, int] | None:
        """A call this process inspects, with the offset into its recording now (ms); else
        ``None`` (another process's call, or one already over)."""
        found = self._running.get(call_id)
        if found is None:
            return None
        call, began = found
        return call, max(0, int(1000 * (self._clock() - began)))

    def vet_bot_sentence(self, call: InspectedCall, text: str, kind: str, offset_ms: int) -> str:
        self._seen(call, offset_ms)
        return self.hooks.check_bot_sentence(text, speech_context(call), offset_ms=offset_ms).speak

    def heard(self, call: InspectedCall, turn: SpokenTurn) -> None:
        self._seen(call, turn.start_ms)
        final = AsrFinal(Speaker(turn.speaker), turn.text, turn.start_ms, turn.end_ms)
        self.hooks.heard(final, speech_context(call))

    # -- a human agent's leg (qa.agent_leg.AgentLegQa) ---------------------------------------

    def agent_said(self, call: InspectedCall, turn: SpokenTurn) -> None:
        """One final of the call's agent leg: a live alert when prohibited, and a turn of the
        call's QA result."""
        final = AsrFinal(Speaker.AGENT, turn.text, turn.start_ms, turn.end_ms)
        self.hooks.keep_agent_turn(final, speech_context(call))

    def leg_opened(self, call_id: str) -> None:
        self.hooks.agent_leg_opened(call_id)

    def leg_closed(self, call_id: str) -> None:
        self.hooks.agent_leg_closed(call_id)

    async def call_finished(
        self, call: InspectedCall, turns: Sequence[SpokenTurn], started_at: datetime
    ) -> None:
        self._running.pop(call.call_id, None)
        await self.hooks.finish_call(speech_context(call), [qa_turn(t) for t in turns], started_at)

    async def start(self) -> None:
        await self.hooks.start()
        if self._watcher is not None:
            self._watcher.start()

    async def aclose(self) -> None:
        if self._watcher is not None:
            with contextlib.suppress(Exception):
                await self._watcher.stop()
        await self.hooks.close()
        if self._alerts is not None:
            with contextlib.suppress(Exception):
                await self._alerts.aclose()


class QaOff:
    """QA of calls switched off on purpose (``IVR_QA_CALLS=false``): sentences are spoken as
    they are, nothing is inspected or stored. Chosen explicitly and logged by the composition
    root; never a default."""

    enabled = False

    def vet_bot_sentence(self, call: InspectedCall, text: str, kind: str, offset_ms: int) -> str:
        return text

    def heard(self, call: InspectedCall, turn: SpokenTurn) -> None:
        return None

    async def call_finished(
        self, call: InspectedCall, turns: Sequence[SpokenTurn], started_at: datetime
    ) -> None:
        return None

    async def aclose(self) -> None:
        return None
