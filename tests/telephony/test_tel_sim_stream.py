"""Streaming mode against the simulator: the simulated channel forks its caller audio to a real
``AudioForkServer`` (mod_audio_fork protocol), the caller barges in, the app sends ``uuid_break``.

The test's call handler plays the app: it starts the fork, tells the server's ``CallAudio`` when
prompts play and acts on its events (``StopPrompt`` → ``api uuid_break <uuid> all``).
``ScriptedASR`` stands in for the ASR model (it still gates on a real VAD).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tel_captures import CAPTURE_DIR, server_bytes
from tel_support import RunningServer

from speech.bargein import PromptKind, SpeechIgnored, StopPrompt
from speech.fakes import ScriptedASR
from speech.stream_server import (
    AudioForkServer,
    CallAudio,
    CallEvent,
    Recognised,
    StreamClosed,
)
from speech.vad import EndpointerConfig, make_vad
from telephony.esl import Api, Event, Parser
from telephony.session import CallSession
from telephony.simulator import CallerScript, CallResult, SimulatedCall, Turn
from telephony.simulator.api import run_api
from telephony.simulator.channel import SimChannel

UTTERANCE = Path(__file__).parent.parent / "speech" / "fixtures" / "a02.wav"
TEXT = "您好请问哪位"
EVENT_TIMEOUT_S = 20.0
MENU = "tone_stream://%(1000,0,440)"
LONG_MENU = "tone_stream://%(30000,0,440)"  # long: the break must come before its end
DISCLOSURE = "tone_stream://%(8000,0,440)"


@pytest.fixture
async def fork_server() -> AsyncIterator[AudioForkServer]:
    server = AudioForkServer(
        lambda rate: make_vad("webrtc", rate, EndpointerConfig(end_ms=500)),
        asr=ScriptedASR([TEXT]),
    )
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@dataclass
class StreamingApp:
    """The app's side of one streaming call; remembers what it saw."""

    fork_server: AudioForkServer
    prompts: list[tuple[str, PromptKind]]
    on_answer_hook: bool = False
    fork_reply: str = ""
    break_reply: str = ""
    stop_reply: str = ""
    played: list[str] = field(default_factory=list)
    metadata: dict[str, object] = field(default_factory=dict)
    events: list[CallEvent] = field(default_factory=list)
    playback_stops: list[Event] = field(default_factory=list)
    completes: list[Event] = field(default_factory=list)
    error: BaseException | None = None

    async def __call__(self, session: CallSession) -> None:
        try:
            await self._run(session)
        except BaseException as exc:  # the test asserts on it (the server would swallow it)
            self.error = exc
            raise

    async def _run(self, session: CallSession) -> None:
        session.add_listener(self._seen)
        uuid = session.uuid
        if self.on_answer_hook:  # the dialplan way (speech/README.md), ${uuid} expanded
            meta = json.dumps({"uuid": "${uuid}", "purpose": "test"})
            hook = f"uuid_audio_fork ${{uuid}} start {self.fork_server.url}/audio/${{uuid}}"
            await session.set_variable("api_on_answer", f"{hook} mono 8k {meta}")
            await session.answer()
        else:
            await session.answer()
            meta = json.dumps({"uuid": uuid, "purpose": "test"})
            fork_arg = f"{uuid} start {self.fork_server.url}/audio/{uuid} mono 8k {meta}"
            self.fork_reply = (await session.api("uuid_audio_fork", fork_arg)).text
        call = await self.fork_server.call(uuid, timeout_s=EVENT_TIMEOUT_S)
        self.metadata = dict(call.metadata)
        for n, (prompt, kind) in enumerate(self.prompts):
            # told before the playback is sent: the server's clock is then not past its start
            call.prompt_started(f"p{n}", kind, node_allows_barge_in=True)
            await self._play(session, call, prompt)
            call.prompt_finished()
        await self._until(call, Recognised)
        self.stop_reply = (await session.api("uuid_audio_fork", f"{uuid} stop")).text
        await self._until(call, StreamClosed)
        await session.hangup()

    async def _play(self, session: CallSession, call: CallAudio, prompt: str) -> None:
        """Play ``prompt``, acting on the call's audio events meanwhile (barge-in)."""
        playing = asyncio.create_task(session.play(prompt))
        while not playing.done():
            waiting = asyncio.create_task(call.next_event())
            await asyncio.wait({playing, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not waiting.done():
                waiting.cancel()
                break
            event = waiting.result()
            self.events.append(event)
            if isinstance(event, StopPrompt):
                reply = await session.api("uuid_break", f"{session.uuid} all")
                self.break_reply = reply.text
        self.played.append(await playing)

    async def _until(self, call: CallAudio, kind: type) -> None:
        while not any(isinstance(e, kind) for e in self.events):
            self.events.append(await call.next_event(EVENT_TIMEOUT_S))

    def _seen(self, event: Event) -> None:
        if event.name == "PLAYBACK_STOP":
            self.playback_stops.append(event)
        elif event.name == "CHANNEL_EXECUTE_COMPLETE" and event.get("Application") == "playback":
            self.completes.append(event)

    def of(self, kind: type) -> list[CallEvent]:
        return [e for e in self.events if isinstance(e, kind)]


async def place(server: RunningServer, turn: Turn, tmp_path: Path) -> CallResult:
    call = SimulatedCall(
        CallerScript(turns=(turn,)), time_scale=0.0, record_dir=tmp_path, keep_traffic=True
    )
    result = await call.run(server.host, server.port, deadline_s=60)
    await server.server.wait_idle()
    return result


async def test_forked_audio_reaches_the_server_and_is_transcribed(
    start_server, fork_server: AudioForkServer, tmp_path: Path
) -> None:
    """The caller answers after the prompt (streaming mode 'listen'); the fork is started by
    ``api_on_answer`` as in the documented dialplan."""
    app = StreamingApp(fork_server, [(MENU, PromptKind.MENU)], on_answer_hook=True)
    server = await start_server(app)
    result = await place(server, Turn.say(UTTERANCE, TEXT), tmp_path)
    assert app.error is None, repr(app.error)
    assert app.metadata == {"uuid": result.uuid, "purpose": "test"}
    recognised = app.of(Recognised)[0]
    assert isinstance(recognised, Recognised)
    assert recognised.transcript.text == TEXT and not recognised.utterance.barged_in
    assert [e.get("Playback-Status") for e in app.playback_stops] == ["done"]
    assert app.stop_reply.startswith("+OK Success")
    assert result.fork_errors == [] and result.breaks == 0
    assert result.fork_speech_frames >= 50  # a02.wav is 1.3 s: 65 frames of 20 ms
    assert result.hangup_by == "ivr" and result.got_exit


async def test_barge_in_stops_an_interruptible_prompt(
    start_server, fork_server: AudioForkServer, tmp_path: Path
) -> None:
    app = StreamingApp(fork_server, [(LONG_MENU, PromptKind.MENU)])
    server = await start_server(app)
    result = await place(server, Turn.say(UTTERANCE, TEXT, during_prompt=True), tmp_path)
    assert app.error is None, repr(app.error)
    assert app.fork_reply.startswith("+OK Success")
    assert [type(e) for e in app.events if isinstance(e, StopPrompt | SpeechIgnored)] == [
        StopPrompt
    ]
    assert app.break_reply == "+OK\n"
    (stop,) = app.playback_stops
    assert stop.get("Playback-Status") == "break"
    assert int(stop.get("variable_playback_ms") or 0) < 30000
    (complete,) = app.completes
    assert complete.get("Application-Response") == "FILE PLAYED"
    assert app.played == ["FILE PLAYED"]
    recognised = app.of(Recognised)[0]
    assert isinstance(recognised, Recognised)
    assert recognised.transcript.text == TEXT and recognised.utterance.barged_in
    assert result.breaks == 1 and result.fork_errors == []
    assert any(isinstance(c, Api) and c.command == "uuid_break" for c in result.commands)


async def test_speech_over_a_disclosure_does_not_stop_it(
    start_server, fork_server: AudioForkServer, tmp_path: Path
) -> None:
    """Invariant 4: the same speech over a disclosure is ignored, the prompt plays out."""
    app = StreamingApp(fork_server, [(DISCLOSURE, PromptKind.DISCLOSURE), (MENU, PromptKind.MENU)])
    server = await start_server(app)
    # the caller speaks over the disclosure, then answers the question that follows it
    call = SimulatedCall(
        CallerScript(
            turns=(Turn.say(UTTERANCE, during_prompt=True), Turn.say(UTTERANCE, TEXT)),
        ),
        time_scale=0.0,
        record_dir=tmp_path,
    )
    result = await call.run(server.host, server.port, deadline_s=60)
    await server.server.wait_idle()
    assert app.error is None, repr(app.error)
    assert app.of(StopPrompt) == [] and app.break_reply == ""
    ignored = app.of(SpeechIgnored)
    assert ignored and all(
        isinstance(e, SpeechIgnored) and e.kind is PromptKind.DISCLOSURE for e in ignored
    )
    assert [e.get("Playback-Status") for e in app.playback_stops] == ["done", "done"]
    assert app.stop_reply.startswith("+OK Success")
    assert result.breaks == 0 and call.turns_used == 2


async def test_break_events_have_the_captures_shape(
    start_server, fork_server: AudioForkServer, tmp_path: Path
) -> None:
    """PLAYBACK_STOP (break) and the playback's CHANNEL_EXECUTE_COMPLETE end like the capture
    of ``uuid_break`` on FreeSWITCH 1.10.12."""
    app = StreamingApp(fork_server, [(LONG_MENU, PromptKind.MENU)])
    server = await start_server(app)
    result = await place(server, Turn.say(UTTERANCE, TEXT, during_prompt=True), tmp_path)
    assert app.error is None, repr(app.error)
    simulated = Parser().feed(b"".join(d for who, d in result.traffic if who == "server"))
    real = Parser().feed(server_bytes(CAPTURE_DIR / "inbound-uuid-commands.esl"))

    def tails(messages: list[Any]) -> tuple[list[str], list[str]]:
        stop = next(
            m.event
            for m in messages
            if m.event is not None
            and m.event.name == "PLAYBACK_STOP"
            and m.event.get("Playback-Status") == "break"
        )
        complete = next(
            m.event
            for m in messages
            if m.event is not None
            and m.event.name == "CHANNEL_EXECUTE_COMPLETE"
            and m.event.get("Application") == "playback"
            and m.event.get("variable_playback_ms") == stop.get("variable_playback_ms")
        )
        return list(stop.headers)[-3:], list(complete.headers)[-4:]

    assert tails(simulated) == tails(real)


class _Media:
    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []
        self.running = False

    def last(self) -> tuple[str, object]:
        return self.calls[-1]

    def break_playback(self, flush: bool) -> None:
        self.calls.append(("break", flush))

    def start_fork(self, url: str, sample_rate: int, metadata: str | None) -> bool:
        self.calls.append(("start", (url, sample_rate, metadata)))
        started, self.running = not self.running, True
        return started

    def stop_fork(self) -> bool:
        stopped, self.running = self.running, False
        return stopped


def test_fork_and_break_api_replies() -> None:
    channel = SimChannel("13800138000", "95588")
    channels, media = {channel.uuid: channel}, _Media()

    def api(command: str, arg: str) -> str:
        return run_api(
            command, arg, channels, kill=lambda ch, cause: None, media={channel.uuid: media}
        )

    uuid = channel.uuid
    meta = '{"uuid": "x", "note": "two words"}'
    assert (
        api("uuid_audio_fork", f"{uuid} start ws://h:1/audio/x mono 16k {meta}") == "+OK Success\n"
    )
    assert media.last() == ("start", ("ws://h:1/audio/x", 16000, meta))
    assert api("uuid_audio_fork", f"{uuid} start ws://h:1/a mono 8k") == "-ERR Operation Failed\n"
    assert api("uuid_audio_stream", f"{uuid} stop") == "+OK Success\n"
    assert api("uuid_audio_fork", f"{uuid} stop") == "-ERR Operation Failed\n"
    assert api("uuid_audio_fork", f"{uuid} start ws://h:1/a stereo 8k") == "-ERR Operation Failed\n"
    assert api("uuid_audio_fork", "nope start ws://h:1/a mono 8k") == "-ERR Operation Failed\n"
    assert api("uuid_audio_fork", f"{uuid} start").startswith("-USAGE: <uuid> [start | stop")
    assert api("uuid_break", f"{uuid} all") == "+OK\n" and media.last() == ("break", True)
    assert api("uuid_break", uuid) == "+OK\n" and media.last() == ("break", False)
    assert api("uuid_break", "nope") == "-ERR No such channel!\n"
    # a channel without media (the inbound switch's): break answers, a fork fails
    assert run_api("uuid_break", uuid, channels, kill=lambda ch, cause: None) == "+OK\n"
    assert (
        run_api(
            "uuid_audio_fork", f"{uuid} start ws://h:1/a mono 8k", channels, kill=lambda c, x: None
        )
        == "-ERR Operation Failed\n"
    )


async def test_unreachable_fork_fails_quietly_and_the_call_goes_on(
    start_server, tmp_path: Path
) -> None:
    """mod_audio_fork answers ``+OK Success`` and connects afterwards; a failed connection
    leaves the call running on its own clock."""
    replies: list[str] = []

    async def app(session: CallSession) -> None:
        await session.answer()
        arg = f"{session.uuid} start ws://127.0.0.1:9/audio/{session.uuid} mono 8k"
        replies.append((await session.api("uuid_audio_fork", arg)).text)
        replies.append(await session.play(MENU))
        await session.hangup()

    server = await start_server(app)
    result = await place(server, Turn.say(UTTERANCE, TEXT), tmp_path)
    assert replies == ["+OK Success\n", "FILE PLAYED"]
    assert result.fork_errors and result.fork_frames == 0
    assert result.hangup_by == "ivr" and result.got_exit
