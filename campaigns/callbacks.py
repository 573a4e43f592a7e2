"""Callback tickets: when no agent is free (invariant 7) or the caller asks to be called back.

A ticket keeps the number as a blind index, a masked form and an SM4-GCM sealed copy whose data
key is wrapped by the records key ring (so master-key rotation covers it); never in clear.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from ivr.crypto import Sealed, blind_index, sm4_gcm_decrypt, sm4_gcm_encrypt
from ivr.errors import StoreUnavailableError
from ivr.phone import mask, normalize
from records.keys import Keyring, WrappedKey

metadata = sa.MetaData()
tickets = sa.Table(
    "callback_tickets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("call_id", sa.String(64), nullable=False, index=True),
    sa.Column("customer_bi", sa.String(64), nullable=False, index=True),
    sa.Column("masked_number", sa.String(32), nullable=False),
    sa.Column("key_id", sa.String(32), nullable=False),
    sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
    sa.Column("number_sealed", sa.LargeBinary, nullable=False),
    sa.Column("queue", sa.String(32), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class CallbackTicket:
    id: str
    call_id: str
    customer_bi: str
    masked_number: str
    queue: str
    reason: str
    status: str
    created_at: datetime


class CallbackTickets:
    """SQL store of callback tickets (SQLite by default, PostgreSQL in production)."""

    def __init__(self, engine: Engine, keyring: Keyring, bi_key: bytes) -> None:
        self._engine = engine
        self._keyring = keyring
        self._bi_key = bi_key

    async def open(
        self, *, call_id: str, number: str, queue: str, reason: str, now: datetime
    ) -> CallbackTicket:
        """Open a ticket for ``number`` (the clear number is sealed, never stored plain)."""
        return await asyncio.to_thread(self._open, call_id, number, queue, reason, now)

    def _open(
        self, call_id: str, number: str, queue: str, reason: str, now: datetime
    ) -> CallbackTicket:
        e164 = normalize(number)
        ticket_id = str(uuid.uuid4())
        context = f"callback|{ticket_id}".encode()
        data_key = Keyring.new_data_key()
        wrapped = self._keyring.wrap(data_key, context)
        sealed = sm4_gcm_encrypt(data_key, e164.encode("ascii"), aad=context)
        ticket = CallbackTicket(
            ticket_id,
            call_id,
            blind_index(self._bi_key, e164),
            mask(e164),
            queue,
            reason,
            "open",
            now,
        )
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    tickets.insert().values(
                        id=ticket.id,
                        call_id=call_id,
                        customer_bi=ticket.customer_bi,
                        masked_number=ticket.masked_number,
                        key_id=wrapped.key_id,
                        wrapped_key=wrapped.blob,
                        number_sealed=sealed.to_bytes(),
                        queue=queue,
                        reason=reason,
                        status="open",
                        created_at=now,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("callback ticket store failed") from exc
        return ticket

    def for_call(self, call_id: str) -> list[CallbackTicket]:
        with self._engine.connect() as conn:
            rows = conn.execute(tickets.select().where(tickets.c.call_id == call_id)).all()
        return [
            CallbackTicket(
                r.id,
                r.call_id,
                r.customer_bi,
                r.masked_number,
                r.queue,
                r.reason,
                r.status,
                r.created_at,
            )
            for r in rows
        ]

    def reveal_number(self, ticket_id: str) -> str:
        """The clear number for the agent who calls back (decrypts the sealed copy)."""
        with self._engine.connect() as conn:
            row = conn.execute(tickets.select().where(tickets.c.id == ticket_id)).one()
        context = f"callback|{ticket_id}".encode()
        data_key = self._keyring.unwrap(WrappedKey(row.key_id, row.wrapped_key), context)
        return sm4_gcm_decrypt(data_key, Sealed.from_bytes(row.number_sealed), aad=context).decode()
