"""One recording per call, sealed; a call back from a queue timeout continues (issue 13 items 3
and 4, issue 12 defect 1, invariant 10). Calls run through the shipped dialplan on the simulated
switch: its ``record_session`` (``ivr_recording_path``) is the call's one recording, the app
seals it into the vault and the clear file goes; per-turn audio goes after its ASR."""

from __future__ import annotations

from pathlib import Path

import pytest
from flow_support import CallOutcome, FlowStack, prompt_file

from flows.channel_vars import LegVariables
from ivr.evidence import EvidenceKind
from records.vault import Actor, RecordingQuery
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CUSTOMER = "13912345678"
OFFICER = Actor("qa", "compliance_officer")


def clear_audio(*roots: Path) -> list[Path]:
    """Every file under ``roots`` that holds what a caller said, in the clear."""
    found: list[Path] = []
    for root in roots:
        if root.exists():
            found += [p for p in root.rglob("*") if p.is_file() and _clear(p)]
    return found


def _clear(path: Path) -> bool:
    return path.suffix.lower() in (".wav", ".raw", ".pcm") or path.name.endswith(".transcript.txt")


def assert_once(call: CallOutcome, stack: FlowStack) -> None:
    kinds = call.kinds()
    for kind in ("call_started", "disclosure_played", "call_ended", "recording_stored"):
        assert kinds.count(kind) == 1, (kind, kinds)
    assert "call_aborted" not in kinds
    vault = stack.deps.recordings.vault  # type: ignore[union-attr]
    assert len(vault.search(OFFICER, RecordingQuery(call_id=call.call_id))) == 1


async def test_inv10_no_clear_caller_audio_stays_on_disk_after_calls(
    flow_stack: FlowStack, tmp_path: Path
) -> None:
    inbound = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.press("1"), Turn.say(transcript="好的再见"))),
        via_dialplan=True,
    )
    anonymous = await flow_stack.place(
        "inbound_service",
        CallerScript(caller="anonymous", turns=(Turn.say(transcript="以后别再给我打电话了"),)),
        via_dialplan=True,
    )
    hangup = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, hangup_during="playback"),
        via_dialplan=True,
    )
    queue_timeout = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.press("0"),), agent_taken_meanwhile=True),
        via_dialplan=True,
    )
    own = await flow_stack.place(  # no dialplan recording: the app records the call itself
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.say(transcript="我想查一下账单"),)),
    )
    outbound = await flow_stack.originate(
        LegVariables(customer_number=CUSTOMER, flow="outbound_marketing"),
        CallerScript(turns=(Turn.say(transcript="好的你说"), Turn.silent())),
    )
    for call in (inbound, anonymous, queue_timeout, own, outbound):
        assert_once(call, flow_stack)
    assert hangup.kinds().count("recording_stored") == 1
    assert "recording_stored" in own.kinds() and "record_session" in own.apps
    assert "record_session" not in inbound.apps  # the dialplan's recording is the one
    assert clear_audio(tmp_path) == []


async def test_inv10_caller_without_a_number_is_sealed_and_found_by_call_id(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(caller="anonymous", turns=(Turn.say(transcript="以后别再给我打电话了"),)),
        via_dialplan=True,
    )
    assert_once(call, flow_stack)
    vault = flow_stack.deps.recordings.vault  # type: ignore[union-attr]
    (found,) = vault.search(OFFICER, RecordingQuery(call_id=call.call_id))
    assert found.direction == "inbound" and found.flow_version.startswith("inbound_service@")
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "refused"


async def test_queue_timeout_continues_the_call_books_a_callback_and_ends_once(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.press("0"),), agent_taken_meanwhile=True),
        via_dialplan=True,
    )
    assert call.result.connections == 2  # the callback_ticket extension came back to the app
    assert "callcenter" in call.result.applications
    assert_once(call, flow_stack)
    assert call.kinds().count("callback_scheduled") == 1
    tickets = flow_stack.deps.tickets.for_call(call.call_id)  # type: ignore[attr-defined]
    assert len(tickets) == 1 and tickets[0].masked_number == "139****5678"
    assert prompt_file(flow_stack, "inbound_service", "callback_ticket") in call.played
    assert call.played.count(prompt_file(flow_stack, "inbound_service", "disclosure")) == 1
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "queue_timeout_callback"
    kinds = call.kinds()
    assert kinds.index("callback_scheduled") < kinds.index("call_ended")


async def test_no_number_to_call_back_is_said_politely_without_contradicting_evidence(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(caller="1000", turns=(Turn.press("0"),), agent_available=False),
        via_dialplan=True,
    )
    assert_once(call, flow_stack)
    kinds = call.kinds()
    assert "callback_unavailable" in kinds and "callback_scheduled" not in kinds
    assert prompt_file(flow_stack, "inbound_service", "callback_no_number") in call.played
    assert prompt_file(flow_stack, "inbound_service", "callback_ticket") not in call.played
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "completed"
