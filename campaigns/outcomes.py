"""How the dialler learns what became of a call it placed (adapters).

- :class:`HangupWatcher`: listens to the inbound ESL client's ``CHANNEL_HANGUP_COMPLETE``
  events; :meth:`HangupWatcher.expect` (before the originate) gives a future resolved with the
  leg's ``Hangup-Cause`` (the leg's ``Unique-ID`` is the attempt id: ``origination_uuid``).
- :class:`EvidenceOutcomes`: the flow's own outcome from the evidence chain, read-only: the
  orchestrator's call id is the leg's uuid, its ``call_ended`` entry names why the call ended
  (``refused``, ``completed``, ``transferred_<queue>``...) and ``consent_granted`` says consent
  was given in the call. :meth:`EvidenceOutcomes.read_many` reads many calls in one query.
- :class:`OutcomePoller`: the dialler's calls that ended wait here for their outcome; one poll
  (every :data:`POLL_S`, one query for every call waiting) serves them all, instead of a query
  per call per poll.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ivr.evidence import EvidenceKind
from records.tables import evidence_log
from telephony.esl import Event

log = logging.getLogger(__name__)
POLL_S = 0.05


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
        return self.read_many([call_id]).get(call_id)

    def read_many(self, call_ids: Sequence[str]) -> dict[str, FlowOutcome]:
        """The outcomes of those of ``call_ids`` whose ``call_ended`` entry is written."""
        kinds = (
            EvidenceKind.CALL_ENDED.value,
            EvidenceKind.CONSENT_GRANTED.value,
            EvidenceKind.DNC_ADDED.value,
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(evidence_log.c.call_id, evidence_log.c.kind, evidence_log.c.payload)
                .where(evidence_log.c.call_id.in_(call_ids), evidence_log.c.kind.in_(kinds))
                .order_by(evidence_log.c.call_id)
            ).all()
        by_call: dict[str, list[Any]] = {}
        for r in rows:
            by_call.setdefault(r.call_id, []).append(r)
        out: dict[str, FlowOutcome] = {}
        for call_id, mine in by_call.items():
            ended = [r for r in mine if r.kind == EvidenceKind.CALL_ENDED.value]
            if not ended:
                continue
            try:
                reason = json.loads(ended[-1].payload).get("reason")
            except ValueError:
                reason = None
            seen = {r.kind for r in mine}
            out[call_id] = FlowOutcome(
                reason if isinstance(reason, str) else None,
                EvidenceKind.CONSENT_GRANTED.value in seen,
                EvidenceKind.DNC_ADDED.value in seen,
            )
        return out


class OutcomePoller:
    """Calls waiting for their flow outcome, polled together (see the module docstring)."""

    def __init__(self, outcomes: EvidenceOutcomes, poll_s: float = POLL_S) -> None:
        self.outcomes = outcomes
        self.poll_s = poll_s
        self._waiting: dict[str, asyncio.Future[FlowOutcome]] = {}
        self._task: asyncio.Task[None] | None = None

    async def wait(self, call_id: str, timeout_s: float) -> FlowOutcome | None:
        """The call's outcome, or ``None`` when none was written within ``timeout_s``."""
        future = self._waiting.get(call_id)
        if future is None:
            future = self._waiting[call_id] = asyncio.get_running_loop().create_future()
        if self._task is None:
            self._task = asyncio.create_task(self._poll(), name="dialler-outcomes")
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout_s)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(call_id, None)

    async def _poll(self) -> None:
        try:
            while self._waiting:
                ids = list(self._waiting)
                try:
                    found = await asyncio.to_thread(self.outcomes.read_many, ids)
                except Exception:
                    log.exception("dialler: call outcomes not read; retried")
                    found = {}
                for call_id, outcome in found.items():
                    future = self._waiting.get(call_id)
                    if future is not None and not future.done():
                        future.set_result(outcome)
                await asyncio.sleep(self.poll_s)
        finally:
            self._task = None
