"""One outbound event-socket connection of a simulated channel (what ``socket`` opens).

It answers the app's commands like mod_event_socket 1.10.12 (``parse_command``): ``connect``
gets the CHANNEL_DATA reply with ``Socket-Mode: async|static`` and ``Control:
full|single-channel``; a session without ``full`` answers ``api``, ``bgapi``, ``linger``,
``nolinger``, ``event``, ``nixevent`` and ``noevents`` with ``-ERR command not found``; without
``async``, ``sendmsg`` runs the application before it replies. Events of the channel reach every
link subscribed to them (``myevents`` or ``event``), including links kept after a transfer by
``linger``; at the end each link gets its linger or goodbye notice and closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuidlib
from typing import TYPE_CHECKING

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
from telephony.simulator.channel import Headers, preamble
from telephony.simulator.faults import inject_fault

if TYPE_CHECKING:
    from telephony.simulator.outbound import SimulatedCall

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
FULL_ONLY = (Api, BgApi, Linger, NoLinger, Subscribe, NixEvent, NoEvents)


class EslLink:
    """The FreeSWITCH side of one outbound-socket TCP connection."""

    def __init__(
        self,
        call: SimulatedCall,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        asynchronous: bool,
        full: bool,
        faults: bool,
    ) -> None:
        self.call = call
        self.reader = reader
        self.writer = writer
        self.asynchronous = asynchronous
        self.full = full
        self.faults = faults
        self.connected = asyncio.Event()
        self.closed = asyncio.Event()
        self.linger: int | None = None
        self.commands = 0
        self._parser = CommandParser()
        self._myevents = False
        self._subs: set[str] = set()
        self._format = "plain"

    # -- wire ------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        """Send ``data`` unless the connection is closed."""
        if self.closed.is_set() or self.writer.is_closing():
            return
        self.call.log_traffic("server", data)
        self.writer.write(data)

    def reply(self, text: str, extra: Headers | None = None) -> None:
        self.write(frames.command_reply(text, extra or ()))

    def close(self) -> None:
        """Close the connection (the call goes on without it)."""
        if not self.writer.is_closing():
            self.writer.close()
        self.closed.set()
        self.connected.set()

    def wants(self, name: str) -> bool:
        return (self._myevents and name in MYEVENTS) or name in self._subs or "ALL" in self._subs

    def send_event(self, name: str, headers: Headers, body: bytes = b"") -> bool:
        """Deliver one event if this link is subscribed to it; True if it was sent."""
        if self.closed.is_set() or not self.wants(name):
            return False
        encode = frames.event_json if self._format == "json" else frames.event_plain
        self.write(encode(headers, body))
        return True

    # -- reading ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Read and answer commands until the connection closes."""
        try:
            await self._read_loop()
        finally:
            self.close()

    async def _read_loop(self) -> None:
        result = self.call.result
        while not self.closed.is_set():
            try:
                data = await self.reader.read(65536)
            except (ConnectionError, OSError):
                data = b""
            if not data:
                result.closed_by_server = True
                return
            self.call.log_traffic("client", data)
            try:
                commands = self._parser.feed(data)
            except EslRemoteError:
                return
            for command in commands:
                result.commands.append(command)
                self.commands += 1
                script = self.call.script
                if self.faults and script.fault is not None and self.commands > script.fault_after:
                    result.fault_injected = True
                    await inject_fault(self, script.fault, self.call.stall_s)
                    return
                if script.reply_delay_ms:
                    await self.call.clock.sleep_wall(script.reply_delay_ms)
                await self._handle(command)
                if self.closed.is_set():
                    return

    # -- commands --------------------------------------------------------------------------

    async def _handle(self, command: Command) -> None:
        call, channel = self.call, self.call.channel
        if isinstance(command, Connect):
            self.write(
                frames.channel_data(
                    channel.channel_data(),
                    socket_mode="async" if self.asynchronous else "static",
                    control="full" if self.full else "single-channel",
                )
            )
            self.connected.set()
        elif isinstance(command, Exit):
            call.result.got_exit = True
            self.reply("+OK bye")
            self.write(frames.disconnect_notice(session_uuid=channel.uuid))
            self.close()
        elif isinstance(command, MyEvents):
            self._myevents = True
            self._format = command.format
            self.reply("+OK Events Enabled")
        elif isinstance(command, GetVar):
            self.reply(channel.variables.get(command.name, ""))
        elif isinstance(command, Filter):
            self.reply(f"+OK filter added. [{command.header}]=[{command.value}]")
        elif isinstance(command, FilterDelete):
            self.reply(f"+OK filter deleted. [{command.header}][{command.value or ''}]")
        elif isinstance(command, Resume):
            channel.variables["socket_resume"] = "true"
            self.reply("+OK")
        elif isinstance(command, Execute):
            await self._execute(command)
        elif isinstance(command, Hangup):
            self.reply("+OK")
            call.start_hangup(command.cause, "ivr")
        elif not self.full or not isinstance(command, FULL_ONLY):
            self.reply("-ERR command not found")
        else:
            self._full_command(command)

    async def _execute(self, command: Execute) -> None:
        call = self.call
        if call.channel.hangup_cause is not None:
            self.reply("-ERR call is gone")
        elif self.asynchronous:
            self.reply("+OK")
            call.queue_app(command)
        else:  # static mode: the application runs before the reply
            await call.execute(command.app, command.arg or "", command.event_uuid)
            self.reply("+OK")

    def _full_command(self, command: Command) -> None:
        if isinstance(command, Subscribe):
            self._format = command.format
            # event names are case-insensitive (switch_name_event); CUSTOM subclasses are not
            self._subs.update(n if "::" in n else n.upper() for n in command.names)
            self.reply(f"+OK event listener enabled {command.format}")
        elif isinstance(command, NixEvent):
            self._subs.difference_update(command.names)
            self.reply("+OK events nixed")
        elif isinstance(command, NoEvents):
            self._subs.clear()
            self._myevents = False
            self.reply("+OK no longer listening for events")
        elif isinstance(command, Linger):
            self.linger = -1 if command.seconds is None else command.seconds
            suffix = "" if command.seconds is None else f" {command.seconds} seconds"
            self.reply(f"+OK will linger{suffix}")
        elif isinstance(command, NoLinger):
            self.linger = None
            self.reply("+OK will not linger")
        elif isinstance(command, Api):
            self.write(frames.api_response(self.call.api(command.command, command.arg).encode()))
        elif isinstance(command, BgApi):
            job = command.job_uuid or str(uuidlib.uuid4())
            self.reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)])
            self._job(job, command, self.call.api(command.command, command.arg).encode())

    def _job(self, job: str, command: BgApi, body: bytes) -> None:
        headers = preamble("BACKGROUND_JOB")
        headers += [
            ("Job-UUID", job),
            ("Job-Owner-UUID", self.call.channel.uuid),
            ("Job-Command", command.command),
        ]
        if command.arg:
            headers.append(("Job-Command-Arg", command.arg))
        if self.send_event("BACKGROUND_JOB", headers, body):
            self.call.result.events.append("BACKGROUND_JOB")

    # -- the end of the call ---------------------------------------------------------------

    async def finish(self) -> None:
        """After CHANNEL_HANGUP_COMPLETE: the linger notice (then wait for ``exit`` or the
        linger time), or the goodbye notice and the close."""
        if self.closed.is_set():
            return
        uuid = self.call.channel.uuid
        if self.linger is None:
            self.write(frames.disconnect_notice(session_uuid=uuid))
            self.close()
            return
        self.write(
            frames.disconnect_notice(
                session_uuid=uuid, linger_channel=self.call.channel.name, linger_time=self.linger
            )
        )
        if self.linger >= 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.closed.wait(), self.linger * self.call.clock.scale)
            self.write(frames.disconnect_notice(session_uuid=uuid))
            self.close()
