"""Ports of the compliance engine: the dial-time gate store and the durable SQL ledger.

Two gate stores implement :class:`GateStore` and pass one contract suite
(``tests/compliance/test_store_contract.py``): :class:`compliance.redis_store.RedisGateStore`
(one atomic Lua script; a mirror of the SQL ledger) and
:class:`compliance.sql_gate.SqlGateStore` (SQL transactions on the ledger itself).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from compliance.decision import DndWindow
from ivr.errors import StoreUnavailableError


class StoreUnsyncedError(StoreUnavailableError):
    """The gate store lost its mirror of the ledger (Redis restarted empty): resync first."""


@dataclass(frozen=True, slots=True)
class GateQuery:
    """One dial-time check. ``may_count``: the pure checks passed, count if the store agrees."""

    number_index: str
    local_date: str  # ISO date in the callee's primary zone
    minute_of_day: int  # callee local, primary zone
    cap: int
    attempt_id: str
    may_count: bool


@dataclass(frozen=True, slots=True)
class StoreFacts:
    """What the store saw, atomically with the (possible) count."""

    dnc: bool
    dnd_windows: tuple[DndWindow, ...]
    count_before: int
    counted: bool
    replay: bool = False  # the attempt id had been counted before: not counted again


@dataclass(frozen=True, slots=True)
class DncEntry:
    number_index: str
    source: str
    reason: str
    call_id: str | None
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Refusal:
    """A recorded refusal: the DNC entry in force, or ``None`` when the caller had no usable
    number (the refusal is then evidence of its own, ``refusal_unidentified``)."""

    dnc: DncEntry | None

    @property
    def dnc_recorded(self) -> bool:
        return self.dnc is not None


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    id: str
    number_index: str
    purpose: str
    scope: str
    channel: str
    granted_at: datetime
    expires_at: datetime
    call_id: str | None
    recording_offset_ms: int | None
    transcript_excerpt: str | None
    revoked_at: datetime | None

    def valid_at(self, at: datetime) -> bool:
        return self.revoked_at is None and self.granted_at <= at < self.expires_at

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "number_index": self.number_index,
            "purpose": self.purpose,
            "scope": self.scope,
            "channel": self.channel,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "call_id": self.call_id,
            "recording_offset_ms": self.recording_offset_ms,
            "transcript_excerpt": self.transcript_excerpt,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


class GateStore(Protocol):
    """The dial-time store: DNC and DND lookups and the daily counter, in one atomic step.

    A store that is a mirror of the SQL ledger (Redis) keeps DNC and DND in step through
    ``mirror_*`` and says with ``is_synced`` whether it still holds the mirror (``resync``
    rebuilds it); a store that is the ledger itself (SQL) is always in sync.
    """

    counts_durably: bool
    """Whether a count is durable in SQL when ``check_and_count`` returns (else the gate's
    decision log makes it durable before the permit is returned, invariant 9)."""

    async def check_and_count(self, query: GateQuery) -> StoreFacts:
        """Check DNC, DND and the cap and count when allowed; idempotent per attempt id."""
        ...

    async def peek(self, number_index: str, local_date: str, minute_of_day: int) -> StoreFacts:
        """The same facts without counting (dry runs)."""
        ...

    async def mirror_dnc(self, number_index: str, present: bool) -> None:
        """Reflect a durable DNC change (a no-op when the store is the ledger itself)."""
        ...

    async def mirror_dnd(self, number_index: str, windows: Sequence[DndWindow]) -> None:
        """Reflect a durable DND change."""
        ...

    async def is_synced(self) -> bool:
        """Whether the store holds the ledger's DNC/DND mirror (else the gate fails closed)."""
        ...

    async def unsync(self) -> None:
        """Mark the mirror lost (every node fails closed until the next resync)."""
        ...

    async def resync(
        self,
        dnc_indexes: Iterable[str],
        dnd_rows: Iterable[tuple[str, str]],
        counted: Iterable[tuple[str, str, int]],
    ) -> None:
        """Rebuild the mirror and raise lost day counters to the ledger's counts."""
        ...

    async def close(self) -> None: ...
