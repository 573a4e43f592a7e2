"""Caller handles: what Rasa gets instead of the customer's number (issue #12, defect 5).

Rasa keeps every message's metadata and every slot in its tracker store (Redis in production)
with the transcript, so the number must never get there. For each conversation the app issues a
**caller handle**: 192 random bits (``secrets``), meaningless outside this database, valid until
the call's hard cap (``IVR_ESL_MAX_CALL_S``) has passed. It travels as the ``caller_handle``
message metadata and slot; the action server, a separate process on the same database, resolves
it here to the :class:`~ivr.phone.CustomerNumber` when an action needs the customer (DNC on a
refusal, consent, the consent and DNC lookups).

A row keeps only the SHA-256 of the handle (a copy of the table gives no usable handle) and the
number sealed the one way numbers are sealed (:mod:`records.sealed_number`, context
``caller-handle|<digest>``). Expired rows are deleted when the next handle is issued. A caller
without a usable number gets no handle (``None``): the actions then treat the caller as
unidentified, exactly as the flows do; one whose handle does not resolve (:data:`UNAVAILABLE`,
expired) as identified but unnamed.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import StoreUnavailableError
from ivr.phone import CustomerNumber
from records.sealed_number import NumberSealer, SealedNumber, sealed_number_columns

metadata = sa.MetaData()
caller_handles = sa.Table(
    "caller_handles",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    *sealed_number_columns(),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

HANDLE_PREFIX = "ch_"
UNAVAILABLE = "unavailable"
"""The handle of an identified caller when none could be issued (the database failed): the
actions then know the caller has a number they cannot name, so a refusal is left to the
orchestrator (``dnc_recorded: false``) and no consent is taken."""


def _digest(handle: str) -> str:
    return hashlib.sha256(handle.encode("utf-8")).hexdigest()


def _context(digest: str) -> str:
    return f"caller-handle|{digest}"


class CallerHandles:
    """SQL store of caller handles (the app issues them, the action server resolves them)."""

    def __init__(
        self,
        engine: Engine,
        numbers: NumberSealer,
        *,
        ttl_s: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if ttl_s <= 0:
            raise ValueError("a caller handle needs a positive lifetime")
        self._engine = engine
        self._numbers = numbers
        self._ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    async def issue(self, call_id: str, number: CustomerNumber | None) -> str | None:
        """A new handle for ``number`` in call ``call_id``; ``None`` for a caller without a
        usable number. Raises :class:`StoreUnavailableError` when the database fails."""
        if number is None:
            return None
        return await asyncio.to_thread(self._issue, call_id, number)

    async def resolve(self, handle: str | None) -> CustomerNumber | None:
        """The number behind ``handle``; ``None`` when there is none, it is unknown or expired."""
        if not handle or not handle.startswith(HANDLE_PREFIX):
            return None
        return await asyncio.to_thread(self._resolve, handle)

    async def revoke(self, call_id: str) -> int:
        """Forget every handle of ``call_id`` now (before it expires); the count deleted."""
        return await asyncio.to_thread(self._revoke, call_id)

    def _issue(self, call_id: str, number: CustomerNumber) -> str:
        handle = HANDLE_PREFIX + secrets.token_urlsafe(24)
        digest = _digest(handle)
        sealed = self._numbers.seal(number, _context(digest))
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                conn.execute(caller_handles.delete().where(caller_handles.c.expires_at <= now))
                conn.execute(
                    caller_handles.insert().values(
                        digest=digest,
                        call_id=call_id,
                        expires_at=now + self._ttl,
                        **sealed.as_row(),
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("caller handle store unavailable") from exc
        return handle

    def _resolve(self, handle: str) -> CustomerNumber | None:
        digest = _digest(handle)
        query = sa.select(caller_handles).where(
            caller_handles.c.digest == digest, caller_handles.c.expires_at > self._clock()
        )
        try:
            with self._engine.connect() as conn:
                row = conn.execute(query).first()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("caller handle store unavailable") from exc
        if row is None:
            return None
        return self._numbers.unseal(SealedNumber.from_row(row._mapping), _context(digest))

    def _revoke(self, call_id: str) -> int:
        try:
            with self._engine.begin() as conn:
                result = conn.execute(
                    caller_handles.delete().where(caller_handles.c.call_id == call_id)
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("caller handle store unavailable") from exc
        return int(result.rowcount)
