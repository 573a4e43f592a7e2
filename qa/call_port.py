"""QA on the orchestrator's side of a call (adapter): :class:`flows.ports.SpeechInspection`
over :class:`qa.hooks.QaHooks`.

:class:`CallInspection` is what :func:`qa.service.build_call_qa` gives the call composition
root: the bot gate before synthesis (a prohibited sentence becomes the rules' safe fallback,
flagged with evidence and a live alert), every caller/agent ASR final to live inspection, and
whole-call QA of the call's turns at its end (SQL + evidence, with the rules version). It also
owns what it runs: the QA rules watcher (hot reload in the call process) and the alert
publisher. :class:`QaOff` is the explicit choice ``IVR_QA_CALLS=false`` (logged where chosen,
shown by ``ivr doctor``). Nothing here logs a transcript.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from flows.ports import InspectedCall, SpokenTurn
from qa.calls import Turn
from qa.hooks import AsrFinal, QaHooks
from qa.reload import QaRulesWatcher
from qa.rules import Speaker
from qa.verdict import SpeechContext

log = logging.getLogger(__name__)


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
        self, hooks: QaHooks, watcher: QaRulesWatcher | None, alerts: _Closable | None
    ) -> None:
        self.hooks = hooks
        self._watcher = watcher
        self._alerts = alerts

    def vet_bot_sentence(self, call: InspectedCall, text: str, kind: str, offset_ms: int) -> str:
        return self.hooks.check_bot_sentence(text, speech_context(call), offset_ms=offset_ms).speak

    def heard(self, call: InspectedCall, turn: SpokenTurn) -> None:
        final = AsrFinal(Speaker(turn.speaker), turn.text, turn.start_ms, turn.end_ms)
        self.hooks.heard(final, speech_context(call))

    async def call_finished(
        self, call: InspectedCall, turns: Sequence[SpokenTurn], started_at: datetime
    ) -> None:
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
