"""inv10/inv7 at the flows' edge: a caller id that is no phone number (withheld, an extension,
garbage) still has its recording sealed, and asks for a callback without crashing the call."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from campaigns.callbacks import CallbackTickets, NoNumberToCallBack, TicketOpened
from flows.adapters import CallbackDesk, VaultRecordings
from flows.orchestrator import CallFacts
from flows.registry import FlowRegistry
from ivr.db import alembic_config
from records.vault import Actor, RecordingQuery, Vault

SUP = Actor("sup-1", "supervisor")


def facts(tmp_path: Path, caller_id: str | None, started_at: Any) -> CallFacts:
    flow = FlowRegistry().get("inbound_service")
    recording = tmp_path / "calls" / "recordings" / "uuid-1.wav"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(b"RIFF" + os.urandom(20_000))
    return CallFacts(
        call_id="uuid-1",
        flow=flow,
        direction="inbound",
        purpose="service",
        customer_number=caller_id,
        campaign=None,
        started_at=started_at,
        started_mono=time.monotonic(),
        recording=recording,
        scratch=tmp_path / "calls" / "uuid-1",
    )


@pytest.mark.parametrize("caller_id", ["anonymous", "1000", "sip:abc@host", None])
async def test_inv10_recording_of_a_caller_without_a_number_is_sealed_at_call_end(
    vault: Vault, tmp_path: Path, clock: Any, caller_id: str | None
) -> None:
    call = facts(tmp_path, caller_id, clock.now)
    await VaultRecordings(vault, "AI-1").store(
        call.recording, call, clock.now + timedelta(minutes=1)
    )
    assert not call.recording.exists()
    [found] = vault.search(SUP, RecordingQuery(call_id="uuid-1"))
    assert found.customer is None and found.business_type == "service"
    assert vault.search(SUP, RecordingQuery(flow="inbound_service")) == [found]


@pytest.mark.parametrize(("caller_id", "opened"), [("1000", False), ("13812345678", True)])
async def test_inv7_callback_for_a_caller_id_that_is_no_number_is_a_typed_outcome(
    vault: Vault, engine: sa.Engine, db_url: str, clock: Any, caller_id: str, opened: bool
) -> None:
    command.upgrade(alembic_config(db_url), "campaigns@head")
    desk = CallbackDesk(CallbackTickets(engine, vault.numbers, vault.evidence))
    outcome = await desk.open(
        call_id="uuid-2", number=caller_id, queue="senior", reason="no_agent", now=clock.now
    )
    assert isinstance(outcome, TicketOpened if opened else NoNumberToCallBack)
