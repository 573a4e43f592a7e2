"""The gate store's mirror of the SQL ledger: DNC and DND in step, rebuilt after a loss.

SQL is the durable ledger; a DNC or DND change commits there first, then :class:`GateMirror`
reflects it in the gate store. When that write fails the mirror is *dirty*: this process's
gate fails closed and the store's ``synced`` sentinel is dropped (every node fails closed) until
:meth:`GateMirror.resync` rebuilt DNC, DND and the day counters from SQL. A store that is the
ledger itself (the SQL gate store) never needs it: its mirror writes are no-ops and it is always
in sync, so nothing here depends on which store is used.

Before reading the counted attempts, a resync waits ``settle_s`` (the gate's timeout): a permit
is only returned once its decision-log row committed, within the gate's deadline of the count,
so every permit counted in the lost Redis is in SQL by then (invariant 9).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timedelta

from compliance.decision import DndWindow
from compliance.guard import SqlPool, guarded
from compliance.ports import GateStore
from compliance.sql import SqlLedger
from ivr.errors import StoreUnavailableError
from ivr.supervise import cancel_and_wait

log = logging.getLogger(__name__)
COUNTS_KEPT_DAYS = 2


class GateMirror:
    """Mirror writes with fail-closed bookkeeping, and the rebuild from SQL."""

    def __init__(
        self,
        store: GateStore,
        ledger: SqlLedger,
        sql: SqlPool,
        *,
        timeout_s: float,
        settle_s: float,
        clock: Callable[[], datetime],
        spooled_dnc: Callable[[], list[str]] = list,
    ) -> None:
        """``spooled_dnc``: DNC entries waiting in this process's outage spool, added to what
        SQL has by a rebuild (:mod:`compliance.spool`)."""
        self.store = store
        self.spooled_dnc = spooled_dnc
        self.ledger = ledger
        self.sql = sql
        self.timeout_s = timeout_s
        self.settle_s = settle_s
        self.clock = clock
        self.dirty = False
        self._task: asyncio.Task[None] | None = None

    async def ensure_synced(self) -> None:
        """At start: rebuild the mirror if the store lost it (Redis restarted empty)."""
        try:
            if not await guarded(self.store.is_synced(), "gate store", self.timeout_s):
                await self.resync()
        except StoreUnavailableError:
            log.warning("gate store unavailable at start; the gate fails closed until it is back")

    async def resync(self) -> None:
        """Rebuild the DNC/DND mirror (and lost day counters) from the SQL ledger."""
        await asyncio.sleep(self.settle_s)
        since = (self.clock() - timedelta(days=COUNTS_KEPT_DAYS)).date().isoformat()
        dnc_rows = await self.sql.call("DNC ledger", None, self.ledger.all_dnc)
        dnc_rows = sorted(set(dnc_rows) | set(self.spooled_dnc()))
        dnd_rows = await self.sql.call("DND ledger", None, self.ledger.all_dnd)
        counted = await self.sql.call("decision log", None, self.ledger.counted_since, since)
        await guarded(self.store.resync(dnc_rows, dnd_rows, counted), "gate store", None)
        self.dirty = False
        log.info("gate mirror rebuilt from SQL: %d DNC, %d DND", len(dnc_rows), len(dnd_rows))

    def schedule_resync(self) -> None:
        """Start a background resync unless one is running (the gate fails closed meanwhile)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._resync_quietly())

    async def _resync_quietly(self) -> None:
        try:
            await self.resync()
        except Exception:  # noqa: BLE001 - retried on the next gate call
            log.warning("gate mirror resync failed; will retry")

    async def mirror_dnc(self, number_index: str, present: bool) -> None:
        """Reflect a DNC addition; a failure makes the gate fail closed until a resync."""
        await self._best_effort(self.store.mirror_dnc(number_index, present))

    async def mirror_dnd(self, number_index: str, windows: Sequence[DndWindow]) -> None:
        await self._best_effort(self.store.mirror_dnd(number_index, windows))

    async def unmirror_dnc(self, number_index: str) -> None:
        """Reflect a DNC removal; raises so the officer retries (the store still blocks it)."""
        try:
            await guarded(self.store.mirror_dnc(number_index, False), "gate store", self.timeout_s)
        except StoreUnavailableError as exc:
            raise StoreUnavailableError(
                "removal recorded, but the gate still blocks the number: retry the removal"
            ) from exc

    async def _best_effort(self, aw: Awaitable[None]) -> None:
        try:
            await guarded(aw, "gate store", self.timeout_s)
        except StoreUnavailableError:
            # The ledger has it; until the mirror is rebuilt this process (and, if the sentinel
            # can be dropped, every node) fails closed.
            self.dirty = True
            with contextlib.suppress(StoreUnavailableError):
                await guarded(self.store.unsync(), "gate store", self.timeout_s)
            log.warning("gate mirror write failed; gate fails closed until resync")

    async def close(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None
