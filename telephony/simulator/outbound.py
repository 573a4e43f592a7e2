"""The FreeSWITCH side of one outbound-socket call, connecting like ``socket … async full``.

It answers the session's commands with the replies of FreeSWITCH 1.10.12, runs the applications
it is sent in order (answer, playback with real durations, play_and_get_digits, record writing a
real WAV, set, bridge, transfer, hangup, ...) and emits their events with the captures' headers,
ordering and encoding, while a :class:`CallerScript` presses digits, speaks, hangs up or makes
the switch misbehave. ``time_scale`` shrinks every media duration (0 = as fast as possible).

Streaming mode: ``api uuid_audio_fork <uuid> start <ws-url> mono 8k [<json>]`` (or the
``api_on_answer`` channel variable) forks the caller's audio to a WebSocket like mod_audio_fork
(:mod:`telephony.simulator.fork`); while it runs, the fork's frames are the call's clock, turn
scripted speech goes into it (during a prompt for barge-in, see :class:`Turn`), and
``api uuid_break <uuid> [all]`` ends the playing prompt with ``Playback-Status: break``.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
import time
import uuid as uuidlib
from collections.abc import Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telephony.esl import (
    Api,
    BgApi,
    Command,
    CommandParser,
    Connect,
    EslRemoteError,
    Execute,
    Exit,
    Filter,
    FilterDelete,
    GetVar,
    Hangup,
    Linger,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    Resume,
    Subscribe,
    frames,
)
from telephony.simulator.api import run_api
from telephony.simulator.channel import SimChannel, preamble
from telephony.simulator.fork import AudioFork
from telephony.simulator.media import duration_ms, read_pcm, write_wav
from telephony.simulator.script import CallerScript, Fault, Turn

MYEVENTS = frozenset(
    {
        "CHANNEL_CREATE",
        "CHANNEL_DESTROY",
        "CHANNEL_STATE",
        "CHANNEL_CALLSTATE",
        "CHANNEL_ANSWER",
        "CHANNEL_APPLICATION",
        "CHANNEL_PROGRESS",
        "CHANNEL_PROGRESS_MEDIA",
        "CHANNEL_BRIDGE",
        "CHANNEL_UNBRIDGE",
        "CHANNEL_EXECUTE",
        "CHANNEL_EXECUTE_COMPLETE",
        "CHANNEL_HANGUP",
        "CHANNEL_HANGUP_COMPLETE",
        "CHANNEL_PARK",
        "CHANNEL_UNPARK",
        "DTMF",
        "DETECTED_SPEECH",
        "BACKGROUND_JOB",
    }
)
SOCKET_ARG = "127.0.0.1:8084 async full"
FORK_CLOSE_S = 2.0


@dataclass
class CallResult:
    """What happened on one simulated call, as seen from the switch."""

    uuid: str
    commands: list[Command] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    traffic: list[tuple[str, bytes]] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)
    hangup_cause: str | None = None
    hangup_by: str | None = None
    got_exit: bool = False
    closed_by_server: bool = False
    timed_out: bool = False
    fault_injected: bool = False
    reply_latencies: list[float] = field(default_factory=list)
    fork_frames: int = 0
    fork_speech_frames: int = 0
    fork_errors: list[str] = field(default_factory=list)
    breaks: int = 0


class SimulatedCall:
    """One scripted call placed into the outbound ESL server."""

    def __init__(
        self,
        script: CallerScript | None = None,
        *,
        time_scale: float = 0.0,
        sounds_dir: Path | None = None,
        record_dir: Path | None = None,
        write_requested_paths: bool = False,
        keep_traffic: bool = False,
        stall_s: float = 30.0,
    ) -> None:
        self.script = script or CallerScript()
        self.scale = time_scale
        self.sounds_dir = sounds_dir
        self.record_dir = record_dir or Path(tempfile.gettempdir()) / "ivr-sim-recordings"
        self.write_requested_paths = write_requested_paths
        self.keep_traffic = keep_traffic
        self.stall_s = stall_s
        self.channel = SimChannel(self.script.caller, self.script.destination)
        self.result = CallResult(self.channel.uuid)
        self._parser = CommandParser()
        self._writer: asyncio.StreamWriter | None = None
        self._reader: asyncio.StreamReader | None = None
        self._myevents = False
        self._subs: set[str] = set()
        self._format = "plain"
        self._linger: int | None = None
        self._apps: asyncio.Queue[Execute] = asyncio.Queue()
        self._hungup = asyncio.Event()
        self._done = asyncio.Event()
        self._app_running = False
        self._socket_done = False
        self._tail_started = False
        self._digits = list(self.script.digits)
        self._turns = list(self.script.turns)
        self.turns_used = 0
        self._socket_app_uuid = str(uuidlib.uuid4())
        self._session_records: dict[str, float] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fork: AudioFork | None = None
        self._fork_task: asyncio.Task[None] | None = None
        self._playing = False
        self._spoke_over_prompt = False
        self._break = asyncio.Event()
        self._answer_task: asyncio.Task[None] | None = None

    # -- running ---------------------------------------------------------------------------

    async def run(self, host: str, port: int, *, deadline_s: float = 60.0) -> CallResult:
        """Connect to the server and play the call to its end; return what happened."""
        reader, writer = await asyncio.open_connection(host, port)
        self._writer = writer
        self._reader = reader
        self._spawn(self._app_worker())
        if self.script.hangup_after_ms is not None:
            self._spawn(self._hangup_timer(self.script.hangup_after_ms))
        reading = asyncio.ensure_future(self._read_loop(reader))
        try:
            async with asyncio.timeout(deadline_s):
                await asyncio.wait(
                    {reading, asyncio.ensure_future(self._done.wait())},
                    return_when=asyncio.FIRST_COMPLETED,
                )
        except TimeoutError:
            self.result.timed_out = True
        finally:
            await self._close_fork()
            reading.cancel()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(reading, *self._tasks, return_exceptions=True)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()
        return self.result

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        while not self._done.is_set():
            try:
                data = await reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                self.result.closed_by_server = True
                self._done.set()
                return
            self._log("client", data)
            try:
                commands = self._parser.feed(data)
            except EslRemoteError:
                self._close()
                return
            for command in commands:
                self.result.commands.append(command)
                if (
                    self.script.fault is not None
                    and len(self.result.commands) > self.script.fault_after
                ):
                    await self._inject_fault(self.script.fault)
                    return
                if self.script.reply_delay_ms:
                    await self._sleep(self.script.reply_delay_ms, interruptible=False)
                await self._handle(command)
                if self._done.is_set():
                    return

    # -- wire ------------------------------------------------------------------------------

    def _log(self, who: str, data: bytes) -> None:
        if self.keep_traffic:
            self.result.traffic.append((who, data))

    def _write(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or writer.is_closing() or self._done.is_set():
            return
        self._log("server", data)
        writer.write(data)

    def _reply(self, text: str, extra: list[tuple[str, str]] | None = None) -> None:
        self._write(frames.command_reply(text, extra or ()))

    def _wants(self, name: str) -> bool:
        return (self._myevents and name in MYEVENTS) or name in self._subs or "ALL" in self._subs

    def _emit(self, name: str, extra: list[tuple[str, str]] | None = None) -> None:
        if not self._wants(name):
            return
        headers = self.channel.event(name, extra or ())
        self.result.events.append(name)
        if self._format == "json":
            self._write(frames.event_json(headers))
        else:
            self._write(frames.event_plain(headers))

    def _close(self) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.close()
        self._done.set()

    # -- commands --------------------------------------------------------------------------

    async def _handle(self, command: Command) -> None:
        if isinstance(command, Connect):
            self._write(frames.channel_data(self.channel.channel_data()))
        elif isinstance(command, MyEvents):
            self._myevents = True
            self._format = command.format
            self._reply("+OK Events Enabled")
        elif isinstance(command, Subscribe):
            self._format = command.format
            self._subs.update(command.names)
            self._reply(f"+OK event listener enabled {command.format}")
        elif isinstance(command, NixEvent):
            self._subs.difference_update(command.names)
            self._reply("+OK events nixed")
        elif isinstance(command, NoEvents):
            self._subs.clear()
            self._myevents = False
            self._reply("+OK no longer listening for events")
        elif isinstance(command, Linger):
            self._linger = -1 if command.seconds is None else command.seconds
            suffix = "" if command.seconds is None else f" {command.seconds} seconds"
            self._reply(f"+OK will linger{suffix}")
        elif isinstance(command, NoLinger):
            self._linger = None
            self._reply("+OK will not linger")
        elif isinstance(command, Execute):
            if self.channel.hangup_cause is not None:
                self._reply("-ERR call is gone")
            else:
                self._reply("+OK")
                self._apps.put_nowait(command)
        elif isinstance(command, Hangup):
            self._reply("+OK")
            self._start_hangup(command.cause, "ivr")
        elif isinstance(command, Api):
            text = self._api(command.command, command.arg)
            self._write(frames.api_response(text.encode()))
        elif isinstance(command, BgApi):
            job = command.job_uuid or str(uuidlib.uuid4())
            self._reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            text = self._api(command.command, command.arg)
            self._emit_job(job, command, text.encode())
        elif isinstance(command, GetVar):
            self._reply(self.channel.variables.get(command.name, "_undef_"))
        elif isinstance(command, Filter):
            self._reply(f"+OK filter added. [{command.header}]=[{command.value}]")
        elif isinstance(command, FilterDelete):
            self._reply(f"+OK filter deleted. [{command.header}][{command.value or ''}]")
        elif isinstance(command, Resume):
            self._reply("+OK")
        elif isinstance(command, Exit):
            self.result.got_exit = True
            self._reply("+OK bye")
            self._write(frames.disconnect_notice(session_uuid=self.channel.uuid))
            self._close()
        else:
            self._reply("-ERR command not found")

    def _api(self, command: str, arg: str) -> str:
        return run_api(
            command,
            arg,
            {self.channel.uuid: self.channel},
            kill=lambda ch, cause: self._start_hangup(cause, "ivr"),
            agents_available=1 if self.script.agent_available else 0,
            media={self.channel.uuid: self},
        )

    def _emit_job(self, job: str, command: BgApi, body: bytes) -> None:
        if not self._wants("BACKGROUND_JOB"):
            return
        headers = preamble("BACKGROUND_JOB")
        headers += [
            ("Job-UUID", job),
            ("Job-Owner-UUID", self.channel.uuid),
            ("Job-Command", command.command),
        ]
        if command.arg:
            headers.append(("Job-Command-Arg", command.arg))
        self.result.events.append("BACKGROUND_JOB")
        encode = frames.event_json if self._format == "json" else frames.event_plain
        self._write(encode(headers, body))

    # -- faults ----------------------------------------------------------------------------

    async def _inject_fault(self, fault: Fault) -> None:
        self.result.fault_injected = True
        writer = self._writer
        assert writer is not None
        if fault is Fault.MALFORMED_FRAME:
            self._write(b"Content-Type command/reply\nthis is not a header\n\n")
        elif fault is Fault.UNKNOWN_CONTENT_TYPE:
            self._write(b"Content-Type: text/x-bogus\nContent-Length: 2\n\nhi")
        elif fault is Fault.BAD_JSON_EVENT:
            self._write(b"Content-Length: 9\nContent-Type: text/event-json\n\n{not json")
        elif fault is Fault.GARBAGE:
            self._write(bytes(range(256)) * 4 + b"\n\n")
        elif fault is Fault.TRUNCATED_FRAME:
            self._write(b"Content-Type: api/response\nContent-Length: 500\n\npartial")
            self._close()
            return
        elif fault is Fault.DROP_CONNECTION:
            writer.transport.abort()
            self._done.set()
            return
        elif fault is Fault.STOP_READING:
            transport = writer.transport
            if isinstance(transport, asyncio.ReadTransport):
                transport.pause_reading()
            await asyncio.sleep(self.stall_s)
            self._close()
            return
        with contextlib.suppress(ConnectionError):
            await writer.drain()
        # keep the connection open until the server gives up on it (it should close it)
        reader = self._reader
        assert reader is not None
        with contextlib.suppress(TimeoutError, ConnectionError, OSError):
            async with asyncio.timeout(self.stall_s):
                while await reader.read(65536):
                    pass
                self.result.closed_by_server = True
        self._close()

    # -- timing ----------------------------------------------------------------------------

    async def _sleep(self, ms: float, *, interruptible: bool = True) -> bool:
        """Wait ``ms`` of media time; True if the call hung up meanwhile."""
        if not interruptible:
            await asyncio.sleep(max(ms, 0) * self.scale / 1000)
            return False
        return await self._wait(ms) == "hangup"

    async def _wait(self, ms: float, stop: asyncio.Event | None = None) -> str:
        """Wait ``ms`` of media time: on the fork's audio clock while a fork runs, else
        ``ms`` scaled. Returns ``"time"``, ``"hangup"`` or ``"stop"`` (``stop`` was set)."""
        fork = self._fork
        if fork is not None and fork.running:
            target = fork.clock_ms + ms
            outcome = await self._race(fork.reached(target), stop)
            if outcome != "time" or fork.clock_ms >= target:
                return outcome
            ms = target - fork.clock_ms  # the fork ended early: the rest on the wall clock
        delay = max(ms, 0) * self.scale / 1000
        if stop is None:
            if self._hungup.is_set():
                return "hangup"
            if delay <= 0:
                await asyncio.sleep(0)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._hungup.wait(), delay)
            return "hangup" if self._hungup.is_set() else "time"
        return await self._race(asyncio.ensure_future(asyncio.sleep(delay)), stop)

    async def _race(self, timer: asyncio.Future[None], stop: asyncio.Event | None) -> str:
        """Wait for ``timer``, the hang-up or ``stop``, whichever comes first."""
        waits: set[asyncio.Future[Any]] = {timer, asyncio.ensure_future(self._hungup.wait())}
        if stop is not None:
            waits.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if self._hungup.is_set():
            return "hangup"
        if stop is not None and stop.is_set():
            return "stop"
        return "time"

    def _clock_ms(self, fork: AudioFork | None) -> float:
        """The media clock: ``fork``'s audio clock, else scaled wall time."""
        if fork is not None:
            return fork.clock_ms
        now = asyncio.get_running_loop().time() * 1000
        return now / self.scale if self.scale > 0 else 0.0

    async def _hangup_timer(self, ms: int) -> None:
        await asyncio.sleep(ms * self.scale / 1000)
        self._start_hangup("NORMAL_CLEARING", "caller")

    # -- hangup ----------------------------------------------------------------------------

    def _start_hangup(self, cause: str, by: str) -> None:
        if self.channel.hangup_cause is not None:
            return
        ch = self.channel
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.variables["hangup_cause"] = cause
        self.result.hangup_cause = cause
        self.result.hangup_by = by
        self._emit("CHANNEL_HANGUP")
        self._hungup.set()
        self.stop_fork()
        if not self._app_running:
            self._spawn(self._tail())

    async def _tail(self) -> None:
        if self._tail_started:
            return
        self._tail_started = True
        ch = self.channel
        self._finish_session_records()
        if not self._socket_done:
            self._emit("CHANNEL_UNPARK")
            self._emit_complete("socket", SOCKET_ARG, "_none_", self._socket_app_uuid)
        ch.state = "CS_HANGUP"
        self._emit("CHANNEL_STATE")
        ch.state, ch.call_state = "CS_REPORTING", "HANGUP"
        self._emit("CHANNEL_STATE")
        self._emit("CHANNEL_HANGUP_COMPLETE")
        if self._linger is None:
            self._write(frames.disconnect_notice(session_uuid=ch.uuid))
            self._close()
            return
        self._write(
            frames.disconnect_notice(
                session_uuid=ch.uuid, linger_channel=ch.name, linger_time=self._linger
            )
        )
        if self._linger >= 0:
            await asyncio.sleep(self._linger * self.scale)
            self._write(frames.disconnect_notice(session_uuid=ch.uuid))
            self._close()

    # -- applications ----------------------------------------------------------------------

    async def _app_worker(self) -> None:
        while True:
            command = await self._apps.get()
            if self.channel.hangup_cause is not None:
                continue
            self._cancel_answer()
            self._app_running = True
            try:
                await self._run_app(command)
            finally:
                self._app_running = False
            if self.channel.hangup_cause is not None:
                await self._tail()

    def _emit_complete(self, app: str, arg: str, response: str, app_uuid: str) -> None:
        extra = [("Application", app)]
        if arg:
            extra.append(("Application-Data", arg))
        extra += [("Application-Response", response), ("Application-UUID", app_uuid)]
        self._emit("CHANNEL_EXECUTE_COMPLETE", extra)

    async def _run_app(self, command: Execute) -> None:
        app, arg = command.app, command.arg or ""
        app_uuid = command.event_uuid or str(uuidlib.uuid4())
        extra = [("Application", app)]
        if arg:
            extra.append(("Application-Data", arg))
        extra.append(("Application-UUID", app_uuid))
        self.channel.variables["current_application"] = app
        if arg:
            self.channel.variables["current_application_data"] = arg
        self._emit("CHANNEL_EXECUTE", extra)
        runner = getattr(self, f"_app_{app}", None)
        response = "_none_"
        if runner is not None:
            response = await runner(arg)
        else:
            await asyncio.sleep(0)
        self._emit_complete(app, arg, response, app_uuid)
        if app == "transfer" and self.channel.hangup_cause is None:
            self._emit("CHANNEL_UNPARK")
            self._emit_complete("socket", SOCKET_ARG, "_none_", self._socket_app_uuid)
            self._socket_done = True
            self._spawn(self._after_transfer())

    async def _caller_hangs_up_during(self, app: str, ms: float) -> bool:
        """If the script hangs up during ``app``: wait half of ``ms``, hang up, return True."""
        if self.script.hangup_during != app:
            return False
        await self._sleep(ms / 2)
        self._start_hangup("NORMAL_CLEARING", "caller")
        return True

    async def _app_answer(self, arg: str) -> str:
        ch = self.channel
        if await self._caller_hangs_up_during("answer", 40):
            return "_none_"
        ch.media, ch.answer_state = True, "early"
        ch.answered_us = int(time.time() * 1_000_000)
        self._emit("CHANNEL_PROGRESS_MEDIA")
        ch.call_state, ch.answer_state = "EARLY", "answered"
        self._emit("CHANNEL_ANSWER")
        ch.call_state = "ACTIVE"
        hook = ch.variables.get("api_on_answer")
        if hook:
            name, _, hook_arg = hook.replace("${uuid}", ch.uuid).partition(" ")
            self._api(name, hook_arg)
        if self.script.digits_on_answer:
            self._spawn(self._press(len(self._digits), ""))
        return "_none_"

    async def _play(self, source: str) -> str:
        ms = duration_ms(source, self.sounds_dir)
        if ms is None:
            return "FILE NOT FOUND"
        file_headers = [("Playback-File-Path", source)]
        if "://" in source:
            file_headers.insert(0, ("Playback-File-Type", source.split("://", 1)[0]))
        self._emit("PLAYBACK_START", file_headers)
        self._break.clear()
        self._playing = True
        clock = self._fork if self._fork is not None and self._fork.running else None
        started = self._clock_ms(clock)
        self._spoke_over_prompt = self._speak_during_prompt()
        try:
            if await self._caller_hangs_up_during("playback", ms):
                return "PLAYBACK ERROR"
            outcome = await self._wait(ms, self._break)
        finally:
            self._playing = False
        if outcome == "hangup":
            return "PLAYBACK ERROR"
        played = ms
        if outcome == "stop":
            self.result.breaks += 1
            played = min(ms, max(0, round(self._clock_ms(clock) - started)))
        samples = str(played * 8)
        self.channel.variables.update(
            playback_last_offset_pos=samples,
            playback_seconds=str(played // 1000),
            playback_ms=str(played),
            playback_samples=samples,
        )
        status = "break" if outcome == "stop" else "done"
        self._emit("PLAYBACK_STOP", [*file_headers, ("Playback-Status", status)])
        # an interrupted playback completes with the same response (captures: uuid_break)
        return "FILE PLAYED"

    async def _app_playback(self, arg: str) -> str:
        response = await self._play(arg)
        if response == "FILE PLAYED" and not self._spoke_over_prompt:
            self._answer_later()
        return response

    # -- streaming (audio fork) ------------------------------------------------------------

    def break_playback(self, flush: bool) -> None:
        """``uuid_break``: end the playing prompt now; ``all`` also drops queued applications
        (FreeSWITCH flushes the channel's private events: they never run nor complete)."""
        if self._playing:
            self._break.set()
        if flush:
            while not self._apps.empty():
                self._apps.get_nowait()

    def start_fork(self, url: str, sample_rate: int, metadata: str | None) -> bool:
        """``uuid_audio_fork <uuid> start``: connect and stream in the background."""
        if self._fork is not None and self._fork.running:
            return False
        if self.channel.hangup_cause is not None:
            return False
        fork = AudioFork(self.channel.uuid, url, sample_rate, metadata, time_scale=self.scale)
        self._fork = fork
        self._fork_task = self._spawn(self._run_fork(fork))
        return True

    def stop_fork(self) -> bool:
        """``uuid_audio_fork <uuid> stop`` (and hang-up): close the WebSocket."""
        fork = self._fork
        if fork is None or not fork.running:
            return False
        fork.stop()
        return True

    async def _run_fork(self, fork: AudioFork) -> None:
        try:
            await fork.run()
        finally:
            self.result.fork_frames += fork.frames_sent
            self.result.fork_speech_frames += fork.speech_frames
            if fork.error is not None:
                self.result.fork_errors.append(fork.error)

    async def _close_fork(self) -> None:
        """At the end of the run: let a running fork close its WebSocket (bounded)."""
        self.stop_fork()
        task = self._fork_task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), FORK_CLOSE_S)

    def _say(self, turn: Turn) -> None:
        """The caller speaks ``turn``'s audio into the fork (if one runs)."""
        fork = self._fork
        if fork is None or not fork.running or turn.audio is None:
            return
        fork.speak(read_pcm(turn.audio, fork.sample_rate))

    def _speak_during_prompt(self) -> bool:
        """At a prompt's start: a pending ``during_prompt`` turn is spoken over it."""
        fork = self._fork
        if fork is None or not fork.running or not self._turns:
            return False
        turn = self._turns[0]
        if turn.action != "say" or not turn.during_prompt:
            return False
        self._next_turn()
        self._spawn(self._say_after(turn))
        return True

    async def _say_after(self, turn: Turn) -> None:
        if await self._wait(turn.delay_ms) == "time":
            self._say(turn)

    def _cancel_answer(self) -> None:
        task, self._answer_task = self._answer_task, None
        if task is not None:
            task.cancel()

    def _answer_later(self) -> None:
        """Streaming mode: after a prompt the caller takes the next turn, unless the IVR does
        something else within the turn's ``delay_ms``."""
        fork = self._fork
        if fork is None or not fork.running or not self._turns or self._turns[0].during_prompt:
            return
        self._cancel_answer()
        self._answer_task = self._spawn(self._answer(self._turns[0].delay_ms))

    async def _answer(self, delay_ms: int) -> None:
        if await self._wait(delay_ms) != "time":
            return
        if self._app_running or self._playing or not self._turns:
            return
        if self._turns[0].during_prompt:
            return
        self._answer_task = None
        turn = self._next_turn()
        if turn.action == "say":
            self._say(turn)
        elif turn.action == "digits":
            self._digits = list(turn.digits)
            await self._press(len(turn.digits), "")
        elif turn.action == "hangup":
            self._start_hangup("NORMAL_CLEARING", "caller")

    async def _press(self, count: int, terminators: str) -> str:
        pressed: list[str] = []
        while self._digits and len(pressed) < count:
            if await self._sleep(self.script.digit_interval_ms):
                break
            digit = self._digits.pop(0)
            self._emit(
                "DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", "2240"), ("DTMF-Source", "RTP")]
            )
            if digit in terminators:
                self.channel.variables["read_terminator_used"] = digit
                break
            pressed.append(digit)
        return "".join(pressed)

    def _next_turn(self) -> Turn:
        self.turns_used += 1
        return self._turns.pop(0) if self._turns else Turn.silent()

    async def _app_play_and_get_digits(self, arg: str) -> str:
        parts = arg.split(" ")
        if len(parts) < 9:
            return "_none_"
        if self.script.turns:
            return await self._pagd_turn(parts)
        max_digits, tries, timeout_ms = int(parts[1]), int(parts[2]), int(parts[3])
        terminators, prompt, variable, regex = parts[4], parts[5], parts[7], parts[8]
        variables = self.channel.variables
        for _ in range(max(tries, 1)):
            if await self._play(prompt) == "PLAYBACK ERROR":
                return "_none_"
            if await self._caller_hangs_up_during("play_and_get_digits", 200):
                return "_none_"
            if not self._digits:
                if await self._sleep(timeout_ms):
                    return "_none_"
                continue
            digits = await self._press(max_digits, terminators)
            if self.channel.hangup_cause is not None:
                return "_none_"
            if re.fullmatch(regex, digits):
                variables[variable] = digits
                variables["read_result"] = "success"
                return "_none_"
        variables["read_result"] = "failure"
        return "_none_"

    async def _pagd_turn(self, parts: list[str]) -> str:
        """play_and_get_digits in a turn-scripted conversation: one try consumes one turn."""
        max_digits, timeout_ms, terminators = int(parts[1]), int(parts[3]), parts[4]
        prompt, variable, regex = parts[5], parts[7], parts[8]
        variables = self.channel.variables
        variables.pop(variable, None)
        if await self._play(prompt) == "PLAYBACK ERROR":
            return "_none_"
        turn = self._next_turn()
        if turn.action == "hangup":
            self._start_hangup("NORMAL_CLEARING", "caller")
            return "_none_"
        if turn.action == "digits":
            self._digits = list(turn.digits)
            digits = await self._press(max_digits, terminators)
            if self.channel.hangup_cause is None and re.fullmatch(regex, digits):
                variables[variable] = digits
                variables["read_result"] = "success"
                return "_none_"
        elif turn.action == "say" and turn.audio is not None:
            self._say(turn)
            await self._sleep(duration_ms(str(turn.audio)) or self.script.speech_ms)
        else:
            await self._sleep(timeout_ms)
        variables["read_result"] = "failure"
        return "_none_"

    async def _record_turn(self, raw_path: str, max_s: int) -> str:
        """record in a turn-scripted conversation: the caller's next turn goes into the file."""
        path = self._record_path(raw_path)
        self._emit("RECORD_START", [("Record-File-Path", raw_path)])
        turn = self._next_turn()
        talk_ms = 0
        if turn.action == "hangup":
            self._start_hangup("NORMAL_CLEARING", "caller")
        elif turn.action == "digits":
            self._digits = list(turn.digits)
            await self._press(len(turn.digits), "")
            talk_ms = 200
        elif turn.action == "say":
            talk_ms = (duration_ms(str(turn.audio)) if turn.audio else None) or 1500
            self._say(turn)
            await self._sleep(talk_ms)
        else:
            talk_ms = max_s * 1000 if max_s else 3000
            await self._sleep(talk_ms)
        source = turn.audio if turn.action == "say" else None
        recorded = write_wav(path, talk_ms, source)
        sidecar = path.with_name(path.name + ".transcript.txt")
        if turn.action == "say" and turn.transcript is not None:
            sidecar.write_text(turn.transcript, encoding="utf-8")
        else:
            sidecar.unlink(missing_ok=True)
        self.result.recordings.append(path)
        self.channel.variables.update(
            record_ms=str(recorded),
            record_seconds=str(recorded // 1000),
            record_samples=str(recorded * 8),
            silence_hits_exhausted="true" if turn.action in ("say", "silent") else "false",
        )
        self._emit("RECORD_STOP", [("Record-File-Path", raw_path)])
        return "_none_"

    async def _app_record(self, arg: str) -> str:
        parts = arg.split(" ")
        if self.script.turns:
            return await self._record_turn(
                parts[0], int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
            )
        path = self._record_path(parts[0])
        max_s = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        silence_s = int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else 3
        self._emit("RECORD_START", [("Record-File-Path", parts[0])])
        speech = duration_ms(str(self.script.utterance)) if self.script.utterance else None
        talk_ms = speech if speech is not None else self.script.speech_ms
        hung = await self._caller_hangs_up_during("record", talk_ms)
        if not hung:
            hung = await self._sleep(talk_ms + silence_s * 1000)
        limit = max_s * 1000 if max_s else talk_ms
        recorded = write_wav(path, min(talk_ms, limit), self.script.utterance)
        self.result.recordings.append(path)
        variables = self.channel.variables
        variables.update(
            record_ms=str(recorded),
            record_seconds=str(recorded // 1000),
            record_samples=str(recorded * 8),
            silence_hits_exhausted="false" if hung else "true",
        )
        self._emit("RECORD_STOP", [("Record-File-Path", parts[0])])
        return "_none_"

    def _record_path(self, path: str) -> Path:
        if self.write_requested_paths:
            return Path(path)
        return self.record_dir / Path(path).name

    async def _app_record_session(self, arg: str) -> str:
        self._session_records[arg] = time.monotonic()
        self._emit("RECORD_START", [("Record-File-Path", arg)])
        return "_none_"

    async def _app_stop_record_session(self, arg: str) -> str:
        self._finish_session_records(only=arg)
        return "_none_"

    def _finish_session_records(self, only: str | None = None) -> None:
        for path, started in list(self._session_records.items()):
            if only is not None and path != only:
                continue
            del self._session_records[path]
            elapsed = int((time.monotonic() - started) * 1000 / max(self.scale, 1e-3))
            target = self._record_path(path)
            write_wav(target, min(elapsed, 600_000))
            self.result.recordings.append(target)
            self._emit("RECORD_STOP", [("Record-File-Path", path)])

    async def _app_set(self, arg: str) -> str:
        name, _, value = arg.partition("=")
        if name:
            self.channel.variables[name] = value
        return "_none_"

    async def _app_sleep(self, arg: str) -> str:
        await self._sleep(int(arg) if arg.isdigit() else 0)
        return "_none_"

    async def _app_bridge(self, arg: str) -> str:
        other = str(uuidlib.uuid4())
        self._emit(
            "CHANNEL_BRIDGE",
            [("Bridge-A-Unique-ID", self.channel.uuid), ("Bridge-B-Unique-ID", other)],
        )
        talk = self.script.agent_talk_ms
        hung = await self._caller_hangs_up_during("bridge", talk) or await self._sleep(talk)
        self._emit(
            "CHANNEL_UNBRIDGE",
            [("Bridge-A-Unique-ID", self.channel.uuid), ("Bridge-B-Unique-ID", other)],
        )
        self.channel.variables["last_bridge_hangup_cause"] = "NORMAL_CLEARING"
        return "_none_" if not hung else "ORIGINATOR_CANCEL"

    async def _app_transfer(self, arg: str) -> str:
        self.channel.variables["transfer_destination"] = arg
        return "_none_"

    async def _after_transfer(self) -> None:
        """The transferred call continues in the dialplan (queue/agent), then ends."""
        ch = self.channel
        ch.state = "CS_ROUTING"
        self._emit("CHANNEL_STATE")
        ch.state = "CS_EXECUTE"
        self._emit("CHANNEL_STATE")
        hung = await self._sleep(self.script.agent_talk_ms)
        if not hung:
            self._start_hangup("NORMAL_CLEARING", "dialplan")

    async def _app_hangup(self, arg: str) -> str:
        self._start_hangup(arg or "NORMAL_CLEARING", "ivr")
        return "_none_"
