"""The gate's decision log, group-committed to SQL: a counted attempt is durable before its permit.

Every gate decision is a row of ``compliance_gate_decisions`` (no clear number). The Redis day
counters are rebuilt from the counted rows after Redis loses its data, so a permit must never
be returned before its row is committed (invariant 9): :meth:`DecisionLog.record_durable`
returns only once the row's transaction committed and raises
:class:`ivr.errors.StoreUnavailableError` otherwise (the gate then denies, invariant 2).
Other rows (denials, dry runs) are :meth:`DecisionLog.record`-ed and ride along.

Group commit: rows queue on the event loop; one writer task takes everything queued and commits
it in one transaction on its own SQL thread, and while that commit runs the next batch queues,
so under load each commit carries every decision made meanwhile (one commit per loop turn at
low load). A failed batch fails its durable waiters and keeps its other rows for the next try;
when ``max_backlog`` rows wait, :meth:`record` refuses (the gate denies rather than dial
unlogged).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from compliance.decision import Decision
from compliance.decision_rows import DecisionRow, EncodedDecision
from compliance.guard import SqlPool
from compliance.sql import SqlLedger
from ivr.errors import StoreUnavailableError

log = logging.getLogger(__name__)
MAX_BACKLOG = 200_000
RETRY_S = 0.2
CHECKPOINT_EVERY_S = 1.0


class DecisionLog:
    """Queue → one writer → one transaction per batch (see the module docstring)."""

    def __init__(
        self,
        ledger: SqlLedger,
        pool: SqlPool,
        *,
        checkpoints: SqlPool,
        max_backlog: int = MAX_BACKLOG,
    ) -> None:
        """``pool`` runs the writer's commits; ``checkpoints`` (another pool) the periodic WAL
        checkpoint, so a commit never waits for one (:func:`compliance.sql.decision_log_engine`)."""
        self.ledger = ledger
        self.pool = pool
        self.checkpoints = checkpoints
        self._checkpointed_at = 0.0
        self._checkpoint: asyncio.Task[None] | None = None
        self.max_backlog = max_backlog
        self._rows: list[EncodedDecision] = []
        self._durable: list[bool] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._writer: asyncio.Task[None] | None = None
        self._retry: asyncio.TimerHandle | None = None
        self._closed = False

    @property
    def backlog(self) -> int:
        return len(self._rows)

    def row(self, d: Decision, number_index: str | None, now: datetime) -> EncodedDecision:
        return self.ledger.encode_decision(
            DecisionRow(
                attempt_id=d.attempt_id,
                number_index=number_index,
                purpose=d.purpose,
                campaign=d.campaign,
                allowed=d.allowed,
                reasons=",".join(r.value for r in d.reasons),
                rules_version=d.rules_version,
                decided_at=now.astimezone(UTC),
                local_date=d.local_date.isoformat() if d.local_date else None,
                counted=d.counted,
                dry_run=d.dry_run,
            )
        )

    def record(self, row: EncodedDecision) -> None:
        """Queue a row for the next commit; raises when the backlog is full."""
        if len(self._rows) >= self.max_backlog:
            raise StoreUnavailableError("decision log backlog full")
        self._rows.append(row)
        self._durable.append(False)
        self._kick()

    async def record_durable(self, row: EncodedDecision) -> None:
        """Queue a row and return once it is committed; raises StoreUnavailableError."""
        if self._closed:
            raise StoreUnavailableError("decision log closed")
        waiter = asyncio.get_running_loop().create_future()
        self._rows.append(row)
        self._durable.append(True)
        self._waiters.append(waiter)
        self._kick()
        await waiter

    def _kick(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        """Commit batches until the queue is empty; after a failure, retry later."""
        while self._rows:
            rows, durable, waiters = self._rows, self._durable, self._waiters
            self._rows, self._durable, self._waiters = [], [], []
            try:
                await self.pool.run(self.ledger.log_encoded_decisions, rows)
            except Exception as exc:  # noqa: BLE001 - rolled back: nothing of it is in SQL
                log.warning(
                    "decision log write failed (%s); %d rows", type(exc).__name__, len(rows)
                )
                error = StoreUnavailableError(f"decision log: {type(exc).__name__}")
                for w in waiters:
                    if not w.done():
                        w.set_exception(error)
                kept = [r for r, d in zip(rows, durable, strict=True) if not d]
                self._rows[:0] = kept
                self._durable[:0] = [False] * len(kept)
                if self._rows and not self._closed:
                    self._retry = asyncio.get_running_loop().call_later(RETRY_S, self._kick)
                return
            for w in waiters:
                if not w.done():
                    w.set_result(None)
            self._maybe_checkpoint()

    def _maybe_checkpoint(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._checkpointed_at < CHECKPOINT_EVERY_S:
            return
        if self._checkpoint is None or self._checkpoint.done():
            self._checkpointed_at = loop.time()
            self._checkpoint = loop.create_task(self._run_checkpoint())

    async def _run_checkpoint(self) -> None:
        try:
            await self.checkpoints.run(self.ledger.checkpoint_decision_log)
        except Exception as exc:  # noqa: BLE001 - the next commit's turn tries again
            log.warning("decision log checkpoint failed (%s)", type(exc).__name__)

    async def flush(self) -> None:
        """Wait for the commit in flight, then commit what is still queued (one attempt)."""
        if self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)
        if self._rows:
            self._kick()
            assert self._writer is not None
            await asyncio.shield(self._writer)

    async def close(self) -> None:
        self._closed = True
        if self._retry is not None:
            self._retry.cancel()
        await self.flush()
        if self._checkpoint is not None and not self._checkpoint.done():
            await self._checkpoint
        with contextlib.suppress(Exception):  # leave the WAL small for the next process
            await self.checkpoints.run(self.ledger.checkpoint_decision_log)
