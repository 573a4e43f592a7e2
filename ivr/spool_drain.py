"""The outage spool's drainer: replays spooled writes into the database, in order.

:class:`SpoolDrainer` takes the oldest run of items of one kind (at most ``batch``), hands it to
that kind's :class:`Replayer` (one transaction where the store allows it) and removes the items
from the spool once the replay committed. Before a replayer that is not idempotent by itself
(the evidence chain: an entry appended twice is two entries) applies a batch, its ``prepare``
token (the chain's head before the batch) is saved in the spool as the in-flight marker; after a
crash the next pass asks the replayer which of the marked items are already in the store
(:meth:`Replayer.applied`) and removes those, so a replay cut off mid-way is never doubled. The
ledger replayers (DNC, consent) insert with their own keys and skip what is there.

It runs supervised (:class:`ivr.supervise.Supervised`) in every process that spools: it wakes
when this process spools and otherwise polls every ``poll_s`` (items a previous process left,
or another process on the same file), retries an unavailable database with a backoff doubling
from ``backoff_s`` to ``max_backoff_s`` (kept short: a refusal waits in the spool until then),
holds a :class:`ivr.spool.DrainLock` during a pass so one process drains a file at a time, and
publishes the ``ivr_spool_items`` and ``ivr_spool_oldest_age_seconds`` gauges. A pass, with
every spool read it makes (and the ``after_pass`` hook: the ledger's view of the DNC entries
waiting), runs on the drainer's own thread: a spool read waits for the file's lock and SQLite's,
which an fsync'd write holds, so none runs on the event loop that carries the calls. After every
pass, failed or not, it awaits its ``each_pass`` hook (the DNC entries re-mirrored). Logs name
kinds, counts and ids, never a payload.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from ivr.errors import ConfigError, StoreUnavailableError
from ivr.metrics import SPOOL_ITEMS, SPOOL_OLDEST_AGE, SPOOL_REPLAYED
from ivr.spool import DrainLock, Marker, Spool, SpoolItem
from ivr.supervise import Supervised, wait_event

log = logging.getLogger(__name__)


class Replayer(Protocol):
    """Puts one kind of spooled item into its store (synchronous; run off the event loop).

    ``apply`` raises :class:`ivr.errors.StoreUnavailableError` when the store cannot take them
    (nothing, or for stores without multi-item transactions a prefix, was applied)."""

    def prepare(self) -> str | None:
        """A token saved before ``apply`` when a repeated apply would double items (else None)."""
        ...

    def apply(self, items: Sequence[SpoolItem]) -> None: ...

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        """After a crash: the ids of ``items`` already in the store (``token`` from prepare)."""
        ...


@dataclass(frozen=True, slots=True)
class DrainPass:
    """What one pass did: items replayed, items left, whether this process held the lock."""

    replayed: int
    left: int
    drained_here: bool


class SpoolDrainer:
    """The supervised replay loop (see the module docstring)."""

    def __init__(
        self,
        spool: Spool,
        replayers: Mapping[str, Replayer],
        *,
        batch: int = 200,
        poll_s: float = 0.5,
        backoff_s: float = 0.05,
        max_backoff_s: float = 0.5,
        after_pass: Callable[[DrainPass], None] | None = None,
        each_pass: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """``after_pass``: called after each pass that reached the database, on the drainer's
        thread (it may read the spool: nothing blocking runs on the event loop); ``each_pass``:
        awaited on the loop after every pass, failed ones included (the compliance ledger
        mirrors the DNC entries it holds to the gate store again); its errors are logged."""
        self.spool = spool
        self.replayers = dict(replayers)
        self.batch = batch
        self.poll_s = poll_s
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.after_pass = after_pass
        self.each_pass = each_pass
        self.lock = DrainLock(spool.path)
        self._wake = asyncio.Event()
        self._owner: asyncio.AbstractEventLoop | None = None  # the loop the drainer runs on
        self._loop = Supervised("spool-drainer", self._run)
        spool.on_put = self.wake
        self.failures = 0
        # its own thread: a busy default executor (calls' SQL and spool writes) must not hold up
        # the replay when the database is back
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="spool-drain")

    def start(self) -> None:
        self._loop.start()

    def wake(self) -> None:
        """Called after a spool write: drain as soon as the database takes it. Safe from any
        thread (the vault spools from its ingest thread)."""
        owner = self._owner
        try:
            running: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if owner is None or running is owner:
            self._wake.set()
        else:
            owner.call_soon_threadsafe(self._wake.set)

    @property
    def state(self) -> object:
        return self._loop.state

    async def stop(self) -> None:
        await self._loop.stop()

    def close(self) -> None:
        self._thread.shutdown(wait=False)

    async def drain(self) -> DrainPass:
        """One pass now (tests, shutdown): replay everything the database takes."""
        loop = asyncio.get_running_loop()
        try:
            done, oldest_s = await loop.run_in_executor(self._thread, self._pass)
        finally:
            await self._each_pass()
        SPOOL_ITEMS.set(done.left)
        SPOOL_OLDEST_AGE.set(oldest_s)
        return done

    def _pass(self) -> tuple[DrainPass, float]:
        """One pass, its ``after_pass`` hook and the oldest item's age, all on the drainer's
        thread (spool reads block: never on the event loop)."""
        done = self.drain_once()
        if self.after_pass is not None:
            self.after_pass(done)
        return done, self.spool.oldest_age_s()

    async def _each_pass(self) -> None:
        if self.each_pass is None:
            return
        try:
            await self.each_pass()
        except Exception:  # the replay goes on; the hook runs again after the next pass
            log.exception("spool: the after-pass hook failed")

    async def _run(self) -> None:
        self._owner = asyncio.get_running_loop()
        delay = self.backoff_s
        while True:
            self._wake.clear()  # a write from now on wakes the wait below
            try:
                await self.drain()
            except StoreUnavailableError as exc:
                self.failures += 1
                if self.failures == 1 or self.failures % 50 == 0:
                    log.warning("spool drain waits for the database (%s)", exc)
                # on the drainer's own thread: the default pool may be backed up (calls'
                # writes) just as the database returns, and the next pass must not wait for it
                left, oldest_s = await asyncio.get_running_loop().run_in_executor(
                    self._thread, self._gauges
                )
                SPOOL_ITEMS.set(left)
                SPOOL_OLDEST_AGE.set(oldest_s)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            if self.failures:
                log.info("spool drain resumed after %d failed passes", self.failures)
                self.failures = 0
            delay = self.backoff_s
            await wait_event(self._wake, self.poll_s)

    def _gauges(self) -> tuple[int, float]:
        return self.spool.count(), self.spool.oldest_age_s()

    def drain_once(self) -> DrainPass:
        """Replay in order until the spool is empty (synchronous; raises
        :class:`StoreUnavailableError` when the database does not take a batch)."""
        if not self.lock.acquire():
            return DrainPass(0, self.spool.count(), drained_here=False)
        try:
            replayed = self._recover()
            while True:
                items = self.spool.head(self.batch)
                if not items:
                    return DrainPass(replayed, 0, drained_here=True)
                run = _first_run(items)
                replayer = self._replayer(run[0].kind)
                ids = tuple(i.id for i in run)
                token = replayer.prepare()
                if token is not None:
                    self.spool.set_marker(Marker(run[0].kind, ids, token))
                replayer.apply(run)
                self.spool.remove(ids)
                SPOOL_REPLAYED.labels(kind=run[0].kind).inc(len(run))
                replayed += len(run)
        finally:
            self.lock.release()

    def _recover(self) -> int:
        """Finish the marked batch a crash cut off: drop what its store already has."""
        marker = self.spool.marker()
        if marker is None:
            return 0
        items = self.spool.items(marker.ids)
        done = self._replayer(marker.kind).applied(items, marker.token)
        if done:
            log.info("spool: %d %s items were replayed before a crash", len(done), marker.kind)
        self.spool.remove(sorted(done))
        return len(done)

    def _replayer(self, kind: str) -> Replayer:
        replayer = self.replayers.get(kind)
        if replayer is None:
            raise ConfigError(f"spool item kind {kind!r} has no replayer in this process")
        return replayer


def _first_run(items: Sequence[SpoolItem]) -> list[SpoolItem]:
    run = [items[0]]
    for item in items[1:]:
        if item.kind != run[0].kind:
            break
        run.append(item)
    return run
