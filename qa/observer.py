"""Turns of a running call from the orchestrator's observer notes (adapter).

Until the orchestrator calls :class:`qa.hooks.QaHooks` itself, :class:`TurnRecorder` plugs in
as its :class:`flows.ports.CallObserver` (``deps.observer``): every prompt it plays (``ivr``),
every bot reply (``bot``) and every caller utterance becomes a :class:`qa.calls.Turn` with its
kind (the prompt kind the flow gave it: ``disclosure``, ``consent``, ``marketing``, ``prompt``;
the ``risk_warning`` prompt id counts as a risk warning) and its offset since the call started.
It keeps the text in memory for QA only; it never logs it.
"""

from __future__ import annotations

import re
import time
from collections import defaultdict
from collections.abc import Callable

from qa.calls import Turn
from qa.rules import Speaker

_DETAIL = re.compile(r"^(?P<prompt>[\w-]*)\s*\[(?P<kind>[\w-]+)")


class TurnRecorder:
    """Collects each call's turns from observer notes."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started: dict[str, float] = {}
        self._turns: dict[str, list[Turn]] = defaultdict(list)

    def note(self, call_id: str, who: str, what: str, detail: str = "") -> None:
        now = self._clock()
        start = self._started.setdefault(call_id, now)
        offset = int(1000 * (now - start))
        if who == "caller":
            if what.startswith("DTMF") or what.startswith("("):
                return
            self._turns[call_id].append(Turn(Speaker.CALLER, what, offset))
            return
        if who not in ("ivr", "bot"):
            return
        m = _DETAIL.match(detail)
        if m is None:
            return  # transfers, hang-ups, webhooks: not speech
        kind = m.group("kind")
        if m.group("prompt") == "risk_warning":
            kind = "risk_warning"
        self._turns[call_id].append(Turn(Speaker.BOT, what, offset, kind=kind))

    def turns(self, call_id: str) -> list[Turn]:
        return list(self._turns.get(call_id, ()))

    def calls(self) -> list[str]:
        return list(self._turns)
