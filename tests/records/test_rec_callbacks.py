"""Callback tickets (campaigns.callbacks): sealed numbers, callers without one, audited reveal."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from campaigns.callbacks import (
    CallbackTickets,
    NoNumberToCallBack,
    TicketNotFoundError,
    TicketOpened,
    tickets,
)
from ivr.crypto import sm4_gcm_encrypt
from ivr.db import alembic_config, make_engine
from ivr.errors import NotAuthorizedError
from ivr.permissions import Role
from ivr.phone import CustomerNumber, customer_number
from records.access import Actor
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.sealed_number import NumberSealer

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
AGENT = Actor("agent-4", Role.AGENT)


def num(raw: str) -> CustomerNumber:
    number = customer_number(raw)
    assert number is not None
    return number


@pytest.fixture
def tickets_engine(db_url: str) -> Iterator[sa.Engine]:
    command.upgrade(alembic_config(db_url), "campaigns@head")
    engine = make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(tickets.delete())
    yield engine
    engine.dispose()


@pytest.fixture
def sealer() -> NumberSealer:
    return NumberSealer(Keyring.single(os.urandom(16)), os.urandom(16))


@pytest.fixture
def evidence(tickets_engine: sa.Engine) -> SqlEvidenceLog:
    return SqlEvidenceLog(tickets_engine)


@pytest.fixture
def desk(
    tickets_engine: sa.Engine, sealer: NumberSealer, evidence: SqlEvidenceLog
) -> CallbackTickets:
    return CallbackTickets(tickets_engine, sealer, evidence)


async def open_ticket(desk: CallbackTickets, raw: str = "139 1234 5678") -> str:
    outcome = await desk.open(
        call_id="call-1", number=num(raw), queue="senior", reason="no_agent", now=NOW
    )
    assert isinstance(outcome, TicketOpened)
    return outcome.ticket.id


async def test_inv11_ticket_store_holds_no_clear_number(
    desk: CallbackTickets, tickets_engine: sa.Engine
) -> None:
    await open_ticket(desk)
    [ticket] = desk.for_call("call-1")
    assert ticket.masked_number == "139****5678" and ticket.queue == "senior"
    assert desk.for_customer(num("+8613912345678")) == [ticket]
    with tickets_engine.connect() as conn:
        for row in conn.execute(tickets.select()):
            for value in row:
                text = value.hex() if isinstance(value, bytes) else str(value)
                assert "13912345678" not in text and "12345678" not in text


@pytest.mark.parametrize("caller_id", ["anonymous", "1000", "garbage!", "", None])
async def test_inv7_caller_without_a_number_gets_a_typed_no_number_outcome(
    desk: CallbackTickets, tickets_engine: sa.Engine, caller_id: str | None
) -> None:
    outcome = await desk.open(
        call_id="call-2",
        number=customer_number(caller_id),
        queue="general",
        reason="no_agent",
        now=NOW,
    )
    assert outcome == NoNumberToCallBack("call-2", "general", "no_agent")
    with tickets_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(tickets)).scalar() == 0


async def test_reveal_names_its_actor_and_is_evidence_before_decrypting(
    desk: CallbackTickets,
    sealer: NumberSealer,
    evidence: SqlEvidenceLog,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticket_id = await open_ticket(desk)
    kinds_at_decrypt: list[list[str]] = []
    real = sealer.unseal

    def unseal(*args: Any) -> CustomerNumber:
        kinds_at_decrypt.append([e.kind for e in evidence.entries()])
        return real(*args)

    monkeypatch.setattr(sealer, "unseal", unseal)
    number = await desk.reveal_number(ticket_id, actor=AGENT, reason="calling back ticket")
    assert number.e164 == "+8613912345678"
    assert kinds_at_decrypt == [["number_revealed"]]
    [entry] = list(evidence.entries())
    assert entry.call_id == "call-1"
    assert entry.payload == {
        "subject": "callback_ticket",
        "ticket_id": ticket_id,
        "number": "139****5678",
        "actor": "agent-4",
        "role": "agent",
        "reason": "calling back ticket",
        "allowed": True,
    }
    assert evidence.verify().ok


async def test_reveal_refused_for_other_roles_empty_reasons_and_unknown_tickets_is_evidence(
    desk: CallbackTickets, evidence: SqlEvidenceLog
) -> None:
    ticket_id = await open_ticket(desk)
    with pytest.raises(NotAuthorizedError):
        await desk.reveal_number(ticket_id, actor=Actor("aud-1", Role.AUDITOR), reason="audit")
    with pytest.raises(NotAuthorizedError):
        await desk.reveal_number(ticket_id, actor=AGENT, reason="  ")
    with pytest.raises(TicketNotFoundError):
        await desk.reveal_number(str(uuid.uuid4()), actor=AGENT, reason="callback")
    got = [(e.payload["actor"], e.payload["allowed"]) for e in evidence.entries()]
    assert got == [("aud-1", False), ("agent-4", False), ("agent-4", False)]


async def test_tickets_sealed_before_the_shared_sealer_still_reveal(
    desk: CallbackTickets, sealer: NumberSealer, tickets_engine: sa.Engine
) -> None:
    """The sealing scheme is the one tickets used before: wrap and seal bound to the ticket."""
    ticket_id = str(uuid.uuid4())
    context = f"callback|{ticket_id}".encode()
    data_key = Keyring.new_data_key()
    wrapped = sealer.keyring.wrap(data_key, context)
    with tickets_engine.begin() as conn:
        conn.execute(
            tickets.insert().values(
                id=ticket_id,
                call_id="old-call",
                customer_bi=sealer.blind_index(num("13912345678")),
                masked_number="139****5678",
                key_id=wrapped.key_id,
                wrapped_key=wrapped.blob,
                number_sealed=sm4_gcm_encrypt(data_key, b"+8613912345678", aad=context).to_bytes(),
                queue="general",
                reason="no_agent",
                status="open",
                created_at=NOW,
            )
        )
    number = await desk.reveal_number(ticket_id, actor=AGENT, reason="callback")
    assert number == num("13912345678")
