"""How the dialler learns what became of a call it placed (adapters).

- :class:`HangupWatcher`: listens to the inbound ESL client's ``CHANNEL_HANGUP_COMPLETE``
  events; :meth:`HangupWatcher.expect` (before the originate) gives a future resolved with the
  leg's ``Hangup-Cause`` (the leg's ``Unique-ID`` is the attempt id: ``origination_uuid``).
- :class:`EvidenceOutcomes`: the flow's own outcome from the evidence chain, read-only: the
  orchestrator's call id is the leg's uuid, its ``call_ended`` entry names why the call ended
  (``refused``, ``completed``, ``transferred_<queue>``...) and ``consent_granted`` says consent
  was given in the call.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import sqlalchemy as sa

from ivr.evidence import EvidenceKind
from records.tables import evidence_log
from telephony.esl import Event


class HangupWatcher:
    """Futures of legs' hangup causes, by channel uuid (see the module docstring)."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[str]] = {}

    def expect(self, uuid: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[uuid] = future
        return future

    def forget(self, uuid: str) -> None:
        self._waiting.pop(uuid, None)

    def on_event(self, event: Event) -> None:
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        future = self._waiting.pop(event.unique_id or "", None)
        if future is not None and not future.done():
            future.set_result(event.get("Hangup-Cause") or "NORMAL_CLEARING")


@dataclass(frozen=True, slots=True)
class FlowOutcome:
    ended_reason: str | None
    consent_granted: bool
    dnc_added: bool


class EvidenceOutcomes:
    """Reads a call's outcome from ``evidence_log`` (never writes)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def read(self, call_id: str) -> FlowOutcome | None:
        """``None`` until the call's ``call_ended`` entry is written."""
        kinds = (
            EvidenceKind.CALL_ENDED.value,
            EvidenceKind.CONSENT_GRANTED.value,
            EvidenceKind.DNC_ADDED.value,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(evidence_log.c.kind, evidence_log.c.payload).where(
                    evidence_log.c.call_id == call_id, evidence_log.c.kind.in_(kinds)
                )
            ).all()
        ended = [r for r in rows if r.kind == EvidenceKind.CALL_ENDED.value]
        if not ended:
            return None
        try:
            reason = json.loads(ended[-1].payload).get("reason")
        except ValueError:
            reason = None
        seen = {r.kind for r in rows}
        return FlowOutcome(
            reason if isinstance(reason, str) else None,
            EvidenceKind.CONSENT_GRANTED.value in seen,
            EvidenceKind.DNC_ADDED.value in seen,
        )
