"""Outbound sessions against the simulator: every step, hang-ups at each step, our own hang-up."""

from __future__ import annotations

import logging
import wave
from pathlib import Path

import pytest
from tel_support import RunningServer

from telephony.errors import CallEndedError
from telephony.esl import Execute
from telephony.handler import DefaultHandler
from telephony.session import CallSession, RecordResult
from telephony.simulator import CallerScript, SimulatedCall

SCALE = 0.001
CALLER = "13912345678"


class FullFlow:
    """answer, play, digits, record, set, getvar, hangup: remembers what it saw."""

    def __init__(self) -> None:
        self.digits: str | None = None
        self.record: RecordResult | None = None
        self.var: str | None = None
        self.ended: CallEndedError | None = None
        self.steps: list[str] = []

    async def __call__(self, session: CallSession) -> None:
        try:
            await session.answer()
            self.steps.append("answer")
            await session.play("tone_stream://%(1500,0,440)")
            self.steps.append("playback")
            self.digits = await session.play_and_get_digits(
                "tone_stream://%(200,50,600)", max_digits=6, timeout_ms=3000
            )
            self.steps.append("play_and_get_digits")
            self.record = await session.record("/var/lib/ivr/rec_test.wav", max_seconds=10)
            self.steps.append("record")
            await session.set_variable("ivr_note", "hello world & more")
            self.var = await session.get_variable("ivr_note")
            await session.bridge("user/agent1")
            self.steps.append("bridge")
            await session.hangup("NORMAL_CLEARING")
        except CallEndedError as exc:
            self.ended = exc
            raise


async def place(server: RunningServer, script: CallerScript, tmp_path: Path, **kw: object):
    call = SimulatedCall(script, time_scale=SCALE, record_dir=tmp_path, **kw)  # type: ignore[arg-type]
    result = await call.run(server.host, server.port, deadline_s=20)
    await server.server.wait_idle()
    return result


async def test_full_flow(start_server, tmp_path: Path) -> None:
    flow = FullFlow()
    server = await start_server(flow)
    result = await place(
        server, CallerScript(digits="4321#", speech_ms=1500, agent_talk_ms=500), tmp_path
    )
    assert flow.steps == ["answer", "playback", "play_and_get_digits", "record", "bridge"]
    assert flow.digits == "4321"
    assert flow.record is not None and flow.record.silence_ended and flow.record.duration_ms == 1500
    assert flow.var == "hello world & more"
    assert result.hangup_by == "ivr" and result.hangup_cause == "NORMAL_CLEARING"
    assert result.got_exit
    (wav,) = result.recordings
    with wave.open(str(wav)) as w:
        assert w.getnframes() == 8000 * 1.5
    apps = [c.app for c in result.commands if isinstance(c, Execute)]
    assert apps == ["answer", "playback", "play_and_get_digits", "record", "set", "bridge"]
    assert all(c.event_uuid for c in result.commands if isinstance(c, Execute))
    assert server.server.stats.completed == 1 and server.evidence.entries == []


async def test_default_handler_answers_plays_and_hangs_up(start_server, tmp_path: Path) -> None:
    server = await start_server(DefaultHandler())
    result = await place(server, CallerScript(), tmp_path)
    apps = [c.app for c in result.commands if isinstance(c, Execute)]
    assert apps == ["answer", "playback"]
    assert result.hangup_by == "ivr" and result.got_exit
    assert "PLAYBACK_STOP" in result.events


@pytest.mark.parametrize("step", ["answer", "playback", "play_and_get_digits", "record", "bridge"])
async def test_caller_hangs_up_during_each_step(start_server, tmp_path: Path, step: str) -> None:
    flow = FullFlow()
    server = await start_server(flow)
    script = CallerScript(digits="12#", hangup_during=step, agent_talk_ms=500)
    result = await place(server, script, tmp_path)
    assert flow.ended is not None and flow.ended.cause == "NORMAL_CLEARING"
    assert step not in flow.steps
    assert result.hangup_by == "caller"
    assert result.got_exit  # the session ends itself after the hang-up, never lingers
    assert server.server.stats.completed == 1 and server.server.stats.aborted == 0
    assert server.evidence.entries == []
    assert result.events[-1] == "CHANNEL_HANGUP_COMPLETE"


async def test_our_hangup_with_cause(start_server, tmp_path: Path) -> None:
    async def busy(session: CallSession) -> None:
        await session.answer()
        await session.hangup("USER_BUSY")
        assert session.hangup_cause == "USER_BUSY"

    server = await start_server(busy)
    result = await place(server, CallerScript(), tmp_path)
    assert result.hangup_cause == "USER_BUSY" and result.hangup_by == "ivr"
    assert server.server.stats.completed == 1


async def test_wait_for_dtmf_and_hangup_while_waiting(start_server, tmp_path: Path) -> None:
    seen: list[str] = []

    async def dtmf(session: CallSession) -> None:
        await session.answer()
        seen.append(await session.wait_for_dtmf(2, timeout_s=10))
        seen.append(await session.wait_for_dtmf(1, timeout_s=0.05))
        await session.wait_for_dtmf(5)  # the caller hangs up meanwhile

    server = await start_server(dtmf)
    script = CallerScript(digits="79", digits_on_answer=True, hangup_after_ms=1_000_000)
    result = await place(server, script, tmp_path)
    assert seen == ["79", ""]
    assert result.hangup_by == "caller"
    assert server.server.stats.completed == 1


async def test_transfer_to_queue_releases_the_call(start_server, tmp_path: Path) -> None:
    async def escalate(session: CallSession) -> None:
        await session.answer()
        await session.set_variables({"ivr_reason": "complaint"})
        await session.enqueue("senior", priority=True)

    server = await start_server(escalate)
    result = await place(server, CallerScript(agent_talk_ms=200), tmp_path)
    transfers = [c for c in result.commands if isinstance(c, Execute) and c.app == "transfer"]
    assert [t.arg for t in transfers] == ["queue_senior XML ivr"]
    assert result.got_exit and result.hangup_by != "ivr"  # we let the switch keep the call
    assert server.server.stats.completed == 1


async def test_json_events(start_server, tmp_path: Path) -> None:
    from dataclasses import replace

    from tel_support import TEST_CONFIG

    flow = FullFlow()
    server = await start_server(flow, replace(TEST_CONFIG, event_format="json"))
    await place(server, CallerScript(digits="55#", agent_talk_ms=100), tmp_path)
    assert flow.digits == "55" and flow.var == "hello world & more"


async def test_handler_crash_aborts_only_that_call(start_server, tmp_path: Path) -> None:
    async def buggy(session: CallSession) -> None:
        await session.answer()
        raise ValueError("bug")

    server = await start_server(buggy)
    result = await place(server, CallerScript(), tmp_path)
    assert server.server.stats.aborted == 1
    ((kind, call_id, payload),) = server.evidence.entries
    assert (
        kind == "call_aborted" and call_id == result.uuid and payload["reason"] == "handler_error"
    )


async def test_logs_carry_no_customer_data(start_server, tmp_path: Path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    flow = FullFlow()
    server = await start_server(flow)
    result = await place(server, CallerScript(caller=CALLER, digits="987654#"), tmp_path)
    assert flow.digits == "987654"
    text = caplog.text
    assert result.uuid in text
    assert CALLER not in text and "987654" not in text
