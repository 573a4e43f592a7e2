"""How the dialler learns what became of a call it placed (adapters).

- :class:`HangupWatcher`: listens to the inbound ESL client's ``CHANNEL_HANGUP_COMPLETE``
  events; :meth:`HangupWatcher.expect` (before the originate) gives a future resolved with the
  leg's ``Hangup-Cause`` (the leg's ``Unique-ID`` is the attempt id: ``origination_uuid``).
  Events that fire while the ESL connection is down are lost, so after every reconnect it
  reconciles the legs it knows are up (answered, no hangup seen): ``api uuid_exists <uuid>``
  for each; a leg the switch no longer has hung up unseen, and its future resolves with
  :data:`MISSED_HANGUP_CAUSE` (a destroyed channel's ``hangup_cause`` cannot be read any more:
  ``uuid_getvar`` answers ``-ERR No such channel!``), so its attempt closes at once instead of
  after ``max_call_s``; its disposition still comes from the flow's outcome below.
  An originate whose result was lost (the connection dropped, or no ``BACKGROUND_JOB`` in
  time) is :meth:`HangupWatcher.pending`: its leg may be ringing or answered on the switch
  (``origination_uuid`` names it before it answers), so the next reconciliation asks
  ``uuid_exists`` for it too: a leg the switch has is followed from then on like one up (its
  hangup event, or a later reconciliation, resolves it; a ``CHANNEL_ANSWER`` seen, or the
  leg's ``endpoint_disposition`` read as ``ANSWER`` at that reconciliation (its answer event
  fired while the connection was down), marks it answered: :meth:`HangupWatcher.answer_seen`);
  one it does not have resolves with :data:`ORIGINATE_LOST_CAUSE`.
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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import sqlalchemy as sa

from ivr.errors import IvrError
from ivr.evidence import EvidenceKind
from records.tables import evidence_log
from telephony.esl import Event

log = logging.getLogger(__name__)
POLL_S = 0.05
MISSED_HANGUP_CAUSE = "HANGUP_MISSED"
"""The hangup cause recorded for a leg found gone after a reconnect (see the module docstring);
not a FreeSWITCH cause, so an export tells these legs apart."""
ORIGINATE_LOST_CAUSE = "ORIGINATE_LOST"
"""The cause recorded for an originate whose result was lost and whose leg the switch did not
have when asked (see the module docstring); not a FreeSWITCH cause."""
RECONCILE_CONCURRENCY = 16
RECONCILE_TIMEOUT_S = 2.0


class ChannelProbe(Protocol):
    """What the reconciliation needs of the ESL client (``InboundClient`` is one)."""

    async def uuid_exists(self, uuid: str, *, timeout_s: float | None = None) -> bool: ...

    async def uuid_getvar(
        self, uuid: str, name: str, *, timeout_s: float | None = None
    ) -> str | None: ...


class FollowedClient(ChannelProbe, Protocol):
    def add_listener(self, listener: Callable[[Event], None]) -> None: ...

    def add_connect_listener(self, listener: Callable[[int], None]) -> None: ...


class HangupWatcher:
    """Futures of legs' hangup causes, by channel uuid (see the module docstring).

    :meth:`follow` wires it to the ESL client (events, reconnects, ``uuid_exists``); without a
    probe it only listens (no reconciliation)."""

    def __init__(self, probe: ChannelProbe | None = None) -> None:
        self.probe = probe
        self._waiting: dict[str, asyncio.Future[str]] = {}
        self._up: set[str] = set()
        self._pending: set[str] = set()
        self._answered: set[str] = set()
        self._settled: dict[str, asyncio.Future[bool]] = {}
        self._answer_seen: dict[str, asyncio.Future[None]] = {}
        self._due = False
        self._task: asyncio.Task[None] | None = None
        self.reconciled = 0
        """Legs closed by a reconciliation (their hangup event was missed)."""
        self.lost = 0
        """Originates with a lost result whose leg the switch did not have."""

    def follow(self, client: FollowedClient) -> None:
        """Listen to ``client``'s events and reconcile after each of its reconnects."""
        self.probe = client
        client.add_listener(self.on_event)
        client.add_connect_listener(self.on_connect)

    def expect(self, uuid: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._waiting[uuid] = future
        return future

    @property
    def live(self) -> frozenset[str]:
        """The legs up now (answered, no hangup seen)."""
        return frozenset(self._up)

    def up(self, uuid: str) -> None:
        """The leg answered: it exists on the switch until its hangup."""
        if uuid in self._waiting:
            self._up.add(uuid)

    def pending(self, uuid: str) -> asyncio.Future[bool]:
        """The leg's originate result was lost: reconcile it as soon as the switch answers
        (now if connected, else after the reconnect). The future resolves ``True`` when the
        switch is known to have (or have had) the leg, ``False`` when it did not."""
        settled: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        if uuid not in self._waiting:
            settled.set_result(False)
            return settled
        self._settled[uuid] = settled
        if uuid in self._answered:
            self._settle(uuid, True)
        else:
            self._pending.add(uuid)
            self._schedule()
        return settled

    def answered(self, uuid: str) -> bool:
        """Whether the leg is known answered (for legs whose result was lost): its
        ``CHANNEL_ANSWER`` seen, or the switch saying so when asked after a reconnect."""
        return uuid in self._answered

    def answer_seen(self, uuid: str) -> asyncio.Future[None]:
        """Resolved once the leg is known :meth:`answered` (at once if it is already)."""
        future = self._answer_seen.get(uuid)
        if future is None:
            future = self._answer_seen[uuid] = asyncio.get_running_loop().create_future()
            if uuid in self._answered:
                future.set_result(None)
        return future

    def _mark_answered(self, uuid: str) -> None:
        self._answered.add(uuid)
        future = self._answer_seen.get(uuid)
        if future is not None and not future.done():
            future.set_result(None)

    def forget(self, uuid: str) -> None:
        self._waiting.pop(uuid, None)
        self._up.discard(uuid)
        self._pending.discard(uuid)
        self._answered.discard(uuid)
        self._answer_seen.pop(uuid, None)
        settled = self._settled.pop(uuid, None)
        if settled is not None and not settled.done():
            settled.set_result(False)

    def _settle(self, uuid: str, exists: bool) -> None:
        self._pending.discard(uuid)
        if exists:
            self._up.add(uuid)
        settled = self._settled.pop(uuid, None)
        if settled is not None and not settled.done():
            settled.set_result(exists)

    def on_event(self, event: Event) -> None:
        uuid = event.unique_id or ""
        if event.name == "CHANNEL_ANSWER":
            if uuid in self._waiting:
                self._mark_answered(uuid)
                if uuid in self._settled:
                    self._settle(uuid, True)
            return
        if event.name != "CHANNEL_HANGUP_COMPLETE":
            return
        if uuid in self._settled:
            self._settle(uuid, True)
        self._up.discard(uuid)
        future = self._waiting.pop(uuid, None)
        if future is not None and not future.done():
            future.set_result(event.get("Hangup-Cause") or "NORMAL_CLEARING")

    def on_connect(self, count: int) -> None:
        """ESL connect listener: after a reconnect (``count`` > 1) reconcile the legs up."""
        if count <= 1:
            return
        self._schedule()

    def _schedule(self) -> None:
        if self.probe is None:
            return
        self._due = True
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(
                self._reconcile_while_due(), name="dialler-reconcile-legs"
            )

    async def _reconcile_while_due(self) -> None:
        while self._due:
            self._due = False
            try:
                await self.reconcile()
            except (IvrError, OSError, TimeoutError) as exc:  # dropped again: its reconnect retries
                log.warning("dialler: legs not reconciled (%s)", type(exc).__name__)

    async def reconcile(self) -> int:
        """Ask the switch about every leg up or pending; resolve those it no longer has (or
        never had). Returns how many. A probe sent while the connection is down waits for it."""
        probe = self.probe
        if probe is None:
            return 0
        gate = asyncio.Semaphore(RECONCILE_CONCURRENCY)

        async def check(uuid: str) -> tuple[bool, bool]:
            """(the switch has the leg, it says the leg was answered: a pending leg's
            ``endpoint_disposition``, which FreeSWITCH sets to ``ANSWER`` as it answers)."""
            async with gate:
                exists = await probe.uuid_exists(uuid, timeout_s=RECONCILE_TIMEOUT_S)
                if not exists or uuid not in self._pending or uuid in self._answered:
                    return exists, False
                how = await probe.uuid_getvar(
                    uuid, "endpoint_disposition", timeout_s=RECONCILE_TIMEOUT_S
                )
                return True, how == "ANSWER"

        live = self._up | self._pending
        legs = [u for u in live if u in self._waiting and not self._waiting[u].done()]
        found = await asyncio.gather(*(check(u) for u in legs))
        gone = lost = 0
        for uuid, (exists, answered) in zip(legs, found, strict=True):
            if uuid in self._pending:
                if exists:
                    if answered:  # answered while the connection was down (event missed)
                        self._mark_answered(uuid)
                    self._settle(uuid, True)  # followed like a leg up from here
                    continue
                self._settle(uuid, False)
                future = self._waiting.pop(uuid, None)
                if future is not None and not future.done():
                    future.set_result(ORIGINATE_LOST_CAUSE)
                    lost += 1
                continue
            if exists:
                continue
            self._up.discard(uuid)
            future = self._waiting.pop(uuid, None)
            if future is not None and not future.done():
                future.set_result(MISSED_HANGUP_CAUSE)
                gone += 1
        if lost:
            self.lost += lost
            log.warning("dialler: %d originates with a lost result had no leg", lost)
        if gone:
            self.reconciled += gone
            log.warning("dialler: %d of %d live legs had hung up unseen (ESL down)", gone,
                        len(legs))  # fmt: skip
        return gone


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
