"""One simulated FreeSWITCH channel: its dialplan, its applications, its socket connections.

:class:`SimulatedCall` runs a channel the way FreeSWITCH 1.10.12 does: the extension's
applications in order (from the shipped dialplan when one is given, else a single ``socket
127.0.0.1:8084 async full``), each with ``CHANNEL_EXECUTE``/``CHANNEL_EXECUTE_COMPLETE`` and the
captures' headers, ordering and encoding. ``socket`` opens an :class:`EslLink` to the app and
runs the applications the app sends (:mod:`telephony.simulator.apps`, one module per application
family); a ``transfer`` ends the socket application and routes the channel again (the old link
stays attached under ``linger``), so a queue timeout can come back to the app through the
``callback_ticket`` extension on the same uuid. A :class:`CallerScript` presses digits, speaks,
hangs up or makes the switch misbehave; :class:`MediaClock` times the media (``time_scale`` 0
= as fast as possible). With a :class:`CallCenter` (the switch's mod_callcenter) the
``callcenter`` application waits for an agent of its model and ``callcenter_config`` runs
against it; without one a queue is answered at once when :attr:`CallerScript.agent_available`.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import uuid as uuidlib
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telephony.esl import Command, Execute
from telephony.simulator.api import run_api
from telephony.simulator.apps import APPLICATIONS
from telephony.simulator.callcenter import CallCenter
from telephony.simulator.caller import Keypad
from telephony.simulator.channel import Headers, SimChannel
from telephony.simulator.clock import MediaClock
from telephony.simulator.dialplan import Dialplan
from telephony.simulator.fsstrings import expand_variables
from telephony.simulator.link import EslLink
from telephony.simulator.script import CallerScript
from telephony.simulator.streaming import Streaming

SOCKET_ARG = "127.0.0.1:8084 async full"
EventObserver = Callable[[str, Headers], None]


@dataclass
class CallResult:
    """What happened on one simulated call, as seen from the switch."""

    uuid: str
    commands: list[Command] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    traffic: list[tuple[str, bytes]] = field(default_factory=list)
    recordings: list[Path] = field(default_factory=list)
    applications: list[str] = field(default_factory=list)
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
    connections: int = 0


class SimulatedCall:
    """One scripted call placed into the outbound ESL server (optionally through the dialplan)."""

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
        dialplan: Dialplan | None = None,
        context: str = "public",
        channel: SimChannel | None = None,
        extension: Sequence[tuple[str, str]] | None = None,
        observer: EventObserver | None = None,
        callcenter: CallCenter | None = None,
    ) -> None:
        self.script = script or CallerScript()
        self.callcenter = callcenter
        self.sounds_dir = sounds_dir
        self.record_dir = record_dir or Path(tempfile.gettempdir()) / "ivr-sim-recordings"
        self.write_requested_paths = write_requested_paths or dialplan is not None
        self.keep_traffic = keep_traffic
        self.stall_s = stall_s
        self.dialplan = dialplan
        self.context = context
        self.channel = channel or SimChannel(self.script.caller, self.script.destination)
        self.result = CallResult(self.channel.uuid)
        self.clock = MediaClock(time_scale)
        self.keypad = Keypad(self)
        self.streaming = Streaming(self)
        self.links: list[EslLink] = []
        self.socket_target: tuple[str, int] | None = None
        self.transfer_to: tuple[str, str, str] | None = None
        self.app_running = False
        self.playing = False
        self.digit_break = False
        self.spoke_over_prompt = False
        self.break_event = asyncio.Event()
        self.session_records: dict[str, tuple[Path, float, bool]] = {}
        self._extension = list(extension) if extension is not None else None
        self._observer = observer
        self._apps: asyncio.Queue[Execute] = asyncio.Queue()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def scale(self) -> float:
        return self.clock.scale

    @property
    def turns_used(self) -> int:
        return self.keypad.turns_used

    # -- running ---------------------------------------------------------------------------

    async def run(
        self, host: str | None = None, port: int | None = None, *, deadline_s: float = 60.0
    ) -> CallResult:
        """Run the channel to its end; every ``socket`` connects to ``host:port`` when given
        (else to the address in its data). Return what happened."""
        if host is not None and port is not None:
            self.socket_target = (host, port)
        if self.script.hangup_after_ms is not None:
            self.spawn(self._hangup_timer(self.script.hangup_after_ms))
        try:
            async with asyncio.timeout(deadline_s):
                await self._run_channel()
                for link in list(self.links):
                    await link.closed.wait()
        except TimeoutError:
            self.result.timed_out = True
        finally:
            await self.streaming.close()
            for link in self.links:
                link.close()
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            for link in self.links:
                with contextlib.suppress(ConnectionError, OSError):
                    await link.writer.wait_closed()
        return self.result

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _first_actions(self) -> list[tuple[str, str]]:
        if self._extension is not None:
            return self._extension
        if self.dialplan is not None:
            return self._route(self.context, self.channel.destination) or []
        return [("socket", SOCKET_ARG)]

    def _route(self, context: str, destination: str) -> list[tuple[str, str]] | None:
        """The applications the dialplan picks; ``None`` without a dialplan."""
        if self.dialplan is None:
            return None
        ch = self.channel
        ch.context, ch.destination = context, destination
        return self.dialplan.route(context, ch.profile_fields(), ch.variables) or []

    async def _run_channel(self) -> None:
        actions = self._first_actions()
        while self.channel.hangup_cause is None:
            for app, data in actions:
                await self.execute(app, data, None)
                if self.transfer_to is not None or self.channel.hangup_cause is not None:
                    break
            if self.channel.hangup_cause is not None:
                break
            if self.transfer_to is None:
                cause = "NORMAL_CLEARING" if actions else "NO_ROUTE_DESTINATION"
                self.start_hangup(cause, "dialplan")
                break
            extension, _, context = self.transfer_to
            self.transfer_to = None
            self.channel.state = "CS_ROUTING"
            self.emit("CHANNEL_STATE")
            routed = self._route(context, extension)
            self.channel.state = "CS_EXECUTE"
            self.emit("CHANNEL_STATE")
            if routed is None:  # no dialplan: the queue or agent takes the call, then it ends
                if not await self.clock.sleep(self.script.agent_talk_ms):
                    self.start_hangup("NORMAL_CLEARING", "dialplan")
                break
            actions = routed
        await self._tail()

    async def _hangup_timer(self, ms: int) -> None:
        await self.clock.sleep_wall(ms)
        self.start_hangup("NORMAL_CLEARING", "caller")

    # -- applications ----------------------------------------------------------------------

    async def execute(self, app: str, arg: str, app_uuid: str | None) -> str:
        """Run one application with its EXECUTE/EXECUTE_COMPLETE events; its response."""
        if "${" in arg:
            arg = expand_variables(arg, self.channel.variables)
        app_uuid = app_uuid or str(uuidlib.uuid4())
        extra = [("Application", app)]
        if arg:
            extra.append(("Application-Data", arg))
        extra.append(("Application-UUID", app_uuid))
        variables = self.channel.variables
        variables["current_application"] = app
        if arg:
            variables["current_application_data"] = arg
        self.result.applications.append(app)
        self.emit("CHANNEL_EXECUTE", extra)
        handler = APPLICATIONS.get(app)
        nested = app == "socket"
        if not nested:
            self.streaming.cancel_answer()
            self.app_running = True
        try:
            response = "_none_"
            if handler is not None:
                response = await handler(self, arg)
            else:
                await asyncio.sleep(0)
        finally:
            if not nested:
                self.app_running = False
        complete = [("Application", app)]
        if arg:
            complete.append(("Application-Data", arg))
        complete += [("Application-Response", response), ("Application-UUID", app_uuid)]
        self.emit("CHANNEL_EXECUTE_COMPLETE", complete)
        return response

    def queue_app(self, command: Execute) -> None:
        """``sendmsg`` execute in async mode: queued as the channel's private event."""
        self._apps.put_nowait(command)

    def flush_apps(self) -> None:
        while not self._apps.empty():
            self._apps.get_nowait()

    async def next_app(self, link: EslLink) -> Execute | None:
        """The next queued application, or ``None`` once ``link`` closed or the call hung up."""
        getter = asyncio.ensure_future(self._apps.get())
        others = [
            asyncio.ensure_future(link.closed.wait()),
            asyncio.ensure_future(self.clock.hungup.wait()),
        ]
        try:
            await asyncio.wait([getter, *others], return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in others:
                waiting.cancel()
        if getter.done():
            return getter.result()
        getter.cancel()
        return None

    def api(self, command: str, arg: str) -> str:
        return run_api(
            command,
            arg,
            {self.channel.uuid: self.channel},
            kill=lambda ch, cause: self.start_hangup(cause, "ivr"),
            agents_available=1 if self.script.agent_available else 0,
            media={self.channel.uuid: self.streaming},
            callcenter=self.callcenter,
        )

    def record_path(self, path: str) -> Path:
        """Where a recording asked for at ``path`` is written."""
        if self.write_requested_paths:
            return Path(path)
        return self.record_dir / Path(path).name

    async def caller_hangs_up_during(self, app: str, ms: float) -> bool:
        """If the script hangs up during ``app``: wait half of ``ms``, hang up, return True."""
        if self.script.hangup_during != app:
            return False
        await self.clock.sleep(ms / 2)
        self.start_hangup("NORMAL_CLEARING", "caller")
        return True

    # -- events ----------------------------------------------------------------------------

    def emit(self, name: str, extra: Headers | None = None) -> None:
        """Fire event ``name`` of this channel to every subscribed link (and the observer)."""
        headers = self.channel.event(name, extra or ())
        delivered = False
        for link in self.links:
            delivered = link.send_event(name, headers) or delivered
        if delivered:
            self.result.events.append(name)
        if self._observer is not None:
            self._observer(name, headers)

    def log_traffic(self, who: str, data: bytes) -> None:
        if self.keep_traffic:
            self.result.traffic.append((who, data))

    # -- hangup ----------------------------------------------------------------------------

    def start_hangup(self, cause: str, by: str) -> None:
        """Hang the channel up (once): CHANNEL_HANGUP now, the rest when its app ends."""
        ch = self.channel
        if ch.hangup_cause is not None:
            return
        ch.hangup_cause = cause
        ch.answer_state = "hangup"
        ch.variables["hangup_cause"] = cause
        self.result.hangup_cause = cause
        self.result.hangup_by = by
        self.emit("CHANNEL_HANGUP")
        self.clock.hungup.set()
        self.streaming.stop_fork()

    async def _tail(self) -> None:
        from telephony.simulator.apps.record import finish_session_records

        ch = self.channel
        finish_session_records(self)
        ch.state = "CS_HANGUP"
        self.emit("CHANNEL_STATE")
        ch.state, ch.call_state = "CS_REPORTING", "HANGUP"
        self.emit("CHANNEL_STATE")
        self.emit("CHANNEL_HANGUP_COMPLETE")
        await asyncio.gather(*(link.finish() for link in self.links))


async def probe(host: str, port: int) -> None:
    """What a readiness check does to the ESL port: connect, then close without a call."""
    _, writer = await asyncio.open_connection(host, port)
    writer.close()
    with contextlib.suppress(ConnectionError, OSError):
        await writer.wait_closed()
