"""DNC entries and consents that survive a database outage: :class:`LedgerSpool` and replayers.

When the SQL ledger cannot take a DNC addition or a consent, :class:`ComplianceService` hands
the very row it tried to insert (a :class:`DncEntry` or a :class:`ConsentRecord`: blind index,
never a clear number; made by the ledger's own :func:`compliance.sql.new_consent`) to
:class:`LedgerSpool`, which writes it to the outage spool (:mod:`ivr.spool`, fsync'd) and
returns: the refusal or consent is acknowledged. The spooled DNC entry is effective at once:
the service mirrors it to the gate store (Redis: every node's gate sees it, and a resync adds
DNC keys, never deletes them), its own gate treats every DNC entry still in the spool as on DNC
(:meth:`LedgerSpool.holds_dnc`: the SQL gate store reads the ledger, which has it only after
the replay), and a mirror rebuild in this process adds them to what SQL has. So a number refused
during the outage is not dialled after PostgreSQL returns and before the spool drained. Other
hosts see the entry only in Redis: if Redis restarts empty and another host rebuilds it from SQL
before the replay, the entry is missing there, so after every drain pass the service mirrors
each waiting entry, and each just replayed, again (:meth:`LedgerSpool.remirror`).

The replayers insert with the rows' own keys (the DNC list is keyed by the number's index, a
consent by its id): replaying twice, after a crash mid-drain, changes nothing. A DNC entry keeps
its original time, source and reason.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from compliance.ports import ConsentRecord, DncEntry
from compliance.sql import SqlLedger
from ivr.errors import StoreUnavailableError
from ivr.spool import Spool, SpoolItem

DNC = "dnc"
CONSENT = "consent"
_DNC_TIMES = ("created_at",)
_CONSENT_TIMES = ("granted_at", "expires_at", "revoked_at")


def _encode(row: DncEntry | ConsentRecord, times: Sequence[str]) -> dict[str, Any]:
    out = asdict(row)
    for name in times:
        value = out[name]
        out[name] = None if value is None else value.isoformat()
    return out


def _decode(body: dict[str, Any], times: Sequence[str]) -> dict[str, Any]:
    out = dict(body)
    for name in times:
        value = out.get(name)
        out[name] = None if value is None else datetime.fromisoformat(value)
    return out


class LedgerSpool:
    """The compliance ledger's side of the outage spool (see the module docstring)."""

    def __init__(self, spool: Spool) -> None:
        self.spool = spool
        self._dnc = spool.keys(DNC)  # entries a previous process left count from the start
        self.mirror: Callable[[str], Awaitable[None]] | None = None  # set by the service
        self._replayed: set[str] = set()  # DNC entries replayed since the last re-mirror
        self._lock = threading.Lock()  # the drainer's thread adds (both sets), the loop reads

    async def add_dnc(self, entry: DncEntry) -> DncEntry:
        """Spool a DNC entry the ledger could not take; returns once it is on disk."""
        await self.spool.aput(DNC, _encode(entry, _DNC_TIMES), key=entry.number_index)
        with self._lock:
            self._dnc.add(entry.number_index)
        return entry

    async def grant_consent(self, rec: ConsentRecord) -> ConsentRecord:
        await self.spool.aput(CONSENT, _encode(rec, _CONSENT_TIMES), key=rec.id)
        return rec

    def holds_dnc(self, number_index: str) -> bool:
        """Whether a DNC entry for the number waits in the spool (or was replayed by this
        process after the gate could have missed it)."""
        with self._lock:
            return number_index in self._dnc

    def pending_dnc(self) -> list[str]:
        with self._lock:
            return sorted(self._dnc)

    def refresh(self) -> None:
        """Add what other processes spooled to the file since (the drainer's ``after_pass``,
        on its thread: it reads the spool; the set never shrinks: a replayed entry is on DNC in
        SQL anyway)."""
        waiting = self.spool.keys(DNC)
        with self._lock:
            self._dnc |= waiting

    def discard(self, number_index: str) -> None:
        """An officer removed the entry (after its replay): the gate stops holding it."""
        with self._lock:
            self._dnc.discard(number_index)

    async def remirror(self) -> None:
        """Mirror to the gate store again each DNC entry waiting in the spool and each replayed
        since the last call (the drainer's hook after every pass). A Redis that restarted empty
        and was rebuilt by another host from SQL, before the replay, lacks them: this puts them
        back within one drain pass, and once more after their replay (SQL has them from then
        on, so any later rebuild does too)."""
        if self.mirror is None:
            return
        waiting = await asyncio.to_thread(self.spool.keys, DNC)
        with self._lock:
            replayed, self._replayed = self._replayed, set()
        for number_index in sorted(waiting | replayed):
            await self.mirror(number_index)

    def _put_dnc(self, ledger: SqlLedger, row: dict[str, Any]) -> None:
        entry = DncEntry(**row)
        ledger.put_dnc(entry)
        with self._lock:
            self._replayed.add(entry.number_index)

    def replayers(self, ledger: SqlLedger) -> dict[str, LedgerReplay]:
        return {
            DNC: LedgerReplay("DNC ledger", _DNC_TIMES, lambda row: self._put_dnc(ledger, row)),
            CONSENT: LedgerReplay(
                "consent ledger",
                _CONSENT_TIMES,
                lambda row: ledger.put_consent(ConsentRecord(**row), replay=True),
            ),
        }


class LedgerReplay:
    """Spooled rows of one kind into the ledger: ``put`` is the ledger's own idempotent write
    (a DNC entry per number, a consent per id), so applying again is harmless."""

    def __init__(
        self, name: str, times: Sequence[str], put: Callable[[dict[str, Any]], object]
    ) -> None:
        self.name = name
        self._times = times
        self._put = put

    def prepare(self) -> None:
        return None

    def apply(self, items: Sequence[SpoolItem]) -> None:
        for item in items:
            try:
                self._put(_decode(item.body, self._times))
            except SQLAlchemyError as exc:
                raise StoreUnavailableError(f"{self.name}: {type(exc).__name__}") from exc

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        return set()  # applying again is harmless
