"""The simulator as strict as FreeSWITCH 1.10 where the product depends on it (issue 13), and
the server's answers to it: socket modes (item 5), probes (item 7), DTMF over a prompt (item 1),
the shipped dialplan with its recording (items 3, 8) and the return from a queue (item 4).

Every test here failed against the simulator before the split: it answered ``event``/``linger``
in any mode, had no probes, pressed digits only after a prompt, ignored the dialplan (a
``transfer`` just hung up after a while) and wrote ``record_session`` where the app said.
"""

from __future__ import annotations

import asyncio
import logging
import wave
from pathlib import Path

from helpers.wait import eventually
from tel_support import RunningServer

from telephony.esl import Parser
from telephony.session import CallSession
from telephony.simulator import CallerScript, Dialplan, Fault, SimulatedCall, Turn, probe

SCALE = 0.001
PROMPT = "tone_stream://%(20000,0,440)"  # 20 ms of wall time: digits land inside it
CALLER = "13912345678"


async def place(server: RunningServer, script: CallerScript, tmp_path: Path, **kw: object):
    call = SimulatedCall(script, time_scale=SCALE, record_dir=tmp_path, **kw)  # type: ignore[arg-type]
    result = await call.run(server.host, server.port, deadline_s=20)
    await server.server.wait_idle()
    return result


def shipped(tmp_path: Path) -> Dialplan:
    return Dialplan.shipped({"recordings_dir": str(tmp_path / "fs-recordings")})


# -- socket modes (item 5) --------------------------------------------------------------------


async def _raw_session(script_arg: str, commands: list[bytes]) -> list[str]:
    """Connect a raw ESL client to a simulated ``socket <script_arg>``; the reply texts."""
    replies: list[str] = []
    done = asyncio.Event()

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parser = Parser()
        for command in commands:
            writer.write(command)
            while True:
                messages = [m for m in parser.feed(await reader.read(65536)) if m.is_reply]
                if messages:
                    replies.append(
                        messages[0].headers.get("Socket-Mode") or messages[0].reply_text or ""
                    )
                    break
        writer.close()
        done.set()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    call = SimulatedCall(CallerScript(), extension=[("socket", f"127.0.0.1:{port} {script_arg}")])
    await call.run(deadline_s=5)
    await done.wait()
    server.close()
    return replies


async def test_single_channel_socket_rejects_event_and_linger() -> None:
    commands = [
        b"connect\n\n",
        b"myevents\n\n",
        b"event plain DTMF\n\n",
        b"linger\n\n",
        b"exit\n\n",
    ]
    assert await _raw_session("", commands) == [
        "static",
        "+OK Events Enabled",
        "-ERR command not found",
        "-ERR command not found",
        "+OK bye",
    ]
    full = await _raw_session("async full", commands)
    assert full[0] == "async" and full[2:4] == [
        "+OK event listener enabled plain",
        "+OK will linger",
    ]


async def test_server_refuses_a_session_not_in_async_full_mode(
    start_server, tmp_path, caplog
) -> None:
    caplog.set_level(logging.INFO)
    started: list[str] = []

    async def handler(session: CallSession) -> None:
        started.append(session.uuid)

    server = await start_server(handler)
    result = await place(
        server,
        CallerScript(caller=CALLER),
        tmp_path,
        extension=[("socket", "127.0.0.1:8084"), ("transfer", "queue_general XML ivr")],
    )
    assert started == [] and server.server.stats.refused == 1
    refusals = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(refusals) == 1 and result.uuid in refusals[0].getMessage()
    assert CALLER not in caplog.text
    # the app let the dialplan go on: the caller reaches the general queue, not a dead line
    assert result.got_exit and "transfer" in result.applications
    ((_, call_id, payload),) = server.evidence.entries
    assert call_id == result.uuid and payload["reason"] == "socket_mode_refused"


# -- probes (item 7) ----------------------------------------------------------------------


async def test_probe_is_not_a_call_but_an_aborted_call_still_is_evidence(
    start_server, tmp_path
) -> None:
    server = await start_server(None)
    await probe(server.host, server.port)
    await probe(server.host, server.port)
    await eventually(lambda: server.server.stats.probes == 2)
    assert server.server.stats.probes == 2 and server.server.stats.aborted == 0
    assert server.evidence.entries == []
    result = await place(server, CallerScript(fault=Fault.DROP_CONNECTION, fault_after=2), tmp_path)
    ((kind, call_id, _),) = server.evidence.entries
    assert kind == "call_aborted" and call_id == result.uuid


# -- DTMF over a prompt (item 1) --------------------------------------------------------------


async def test_digit_pressed_during_playback_stays_queued(start_server, tmp_path) -> None:
    seen: dict[str, object] = {}

    async def menu(session: CallSession) -> None:
        await session.answer()
        await session.set_playback_terminators("none")
        seen["play"] = await session.play(PROMPT)
        seen["after"] = session.pending_dtmf()
        seen["read"] = session.drain_dtmf()
        await session.hangup()

    server = await start_server(menu)
    await place(
        server, CallerScript(turns=(Turn.press("1", during_prompt=True, delay_ms=500),)), tmp_path
    )
    assert seen == {"play": "FILE PLAYED", "after": "1", "read": "1"}


async def test_terminator_digit_ends_the_prompt(start_server, tmp_path) -> None:
    seen = []

    async def menu(session: CallSession) -> None:
        await session.answer()
        await session.set_playback_terminators("any")
        seen.append(await session.play_prompt(PROMPT))
        await session.hangup()

    server = await start_server(menu)
    result = await place(
        server, CallerScript(turns=(Turn.press("2", during_prompt=True, delay_ms=500),)), tmp_path
    )
    (played,) = seen
    assert played.terminator == "2" and played.digits == "2"
    assert played.played_ms is not None and played.played_ms < 20000
    assert result.breaks == 0  # not a uuid_break


async def test_play_and_get_digits_collects_digits_pressed_over_its_prompt(
    start_server, tmp_path
) -> None:
    seen = []

    async def menu(session: CallSession) -> None:
        await session.answer()
        seen.append(await session.collect_digits(PROMPT, max_digits=3, timeout_ms=20000))
        await session.hangup()

    server = await start_server(menu)
    script = CallerScript(turns=(Turn.press("12#", during_prompt=True, delay_ms=300),))
    result = await place(server, script, tmp_path, keep_traffic=True)
    (got,) = seen
    assert got.digits == "12" and got.result == "success" and got.terminator == "#"
    stream = b"".join(data for who, data in result.traffic if who == "server")
    assert b"Playback-Status: break" in stream


# -- the shipped dialplan (items 3, 4, 8) -----------------------------------------------------


def test_shipped_dialplan_routes_every_documented_extension(tmp_path) -> None:
    plan = shipped(tmp_path)

    def apps(context: str, number: str) -> list[tuple[str, str]]:
        return plan.route(context, {"destination_number": number}, {}) or []

    inbound = apps("public", "95588")
    assert ("socket", "127.0.0.1:8084 async full") in inbound
    assert [a for a, _ in inbound].index("record_session") < [a for a, _ in inbound].index("socket")
    assert inbound[-1] == ("transfer", "queue_general XML ivr")
    assert apps("public", "4008123456") and not apps("public", "1000")
    for queue in ("senior", "general"):
        route = apps("ivr", f"queue_{queue}")
        assert ("callcenter", f"{queue}@default") in route
        assert route[-1] == ("transfer", "callback_ticket XML ivr")
    assert apps("ivr", "callback_ticket")[:2] == [
        ("set", "ivr_callback_requested=true"),
        ("socket", "127.0.0.1:8084 async full"),
    ]
    outbound = [a for a, _ in apps("ivr", "ivr_outbound")]
    assert outbound.index("record_session") < outbound.index("socket")
    assert plan.queues["senior@default"].max_wait_no_agent == 30


async def test_dialplan_recording_is_a_stereo_wav_where_the_dialplan_says(
    start_server, tmp_path
) -> None:
    seen: list[CallSession] = []

    async def handler(session: CallSession) -> None:
        seen.append(session)
        await session.answer()
        await session.play(PROMPT)
        await session.hangup()

    server = await start_server(handler)
    result = await place(server, CallerScript(), tmp_path, dialplan=shipped(tmp_path))
    (session,) = seen
    path = Path(session.recording_path or "")
    assert (
        path.is_relative_to(tmp_path / "fs-recordings" / "ivr")
        and path.name == f"{result.uuid}.wav"
    )
    assert result.recordings == [path]
    with wave.open(str(path)) as wav:
        assert wav.getnchannels() == 2 and wav.getnframes() >= 8000 * 20


async def test_queue_timeout_comes_back_to_the_app_on_the_same_uuid(start_server, tmp_path) -> None:
    sessions: list[CallSession] = []

    async def handler(session: CallSession) -> None:
        sessions.append(session)
        if not session.is_callback_return:
            await session.answer()
            await session.enqueue(
                "senior",
                priority=True,
                variables={"ivr_call_id": session.uuid, "ivr_queue_reason": "complaint"},
            )
            await session.wait_hangup(10)
            return
        await session.play(PROMPT)  # "we will call you back"
        await session.hangup()

    server = await start_server(handler)
    script = CallerScript(agent_available=False)
    result = await place(server, script, tmp_path, dialplan=shipped(tmp_path))
    first, second = sessions
    assert first.uuid == second.uuid == result.uuid and result.connections == 2
    assert second.is_callback_return and not first.is_callback_return
    assert second.variable("ivr_queue_reason") == "complaint"
    assert second.variable("cc_base_score") == "1000"
    exit_ = second.queue_exit
    assert exit_ is not None and exit_.queue == "senior@default" and exit_.no_agent
    assert result.hangup_by == "ivr" and first.hangup_cause == "NORMAL_CLEARING"
    assert server.server.stats.completed == 2 and server.evidence.entries == []


async def test_agent_answers_then_the_call_ends_without_a_callback(start_server, tmp_path) -> None:
    sessions: list[CallSession] = []

    async def handler(session: CallSession) -> None:
        sessions.append(session)
        await session.answer()
        await session.enqueue("general")
        await session.wait_hangup(10)

    server = await start_server(handler)
    result = await place(
        server, CallerScript(agent_talk_ms=300), tmp_path, dialplan=shipped(tmp_path)
    )
    assert len(sessions) == 1 and result.connections == 1
    assert "callcenter" in result.applications and result.hangup_by == "dialplan"
