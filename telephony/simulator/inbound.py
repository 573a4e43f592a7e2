"""The inbound side of the simulated switch: ``mod_event_socket`` listening like port 8021.

Each connection gets ``auth/request``; after ``auth`` it may subscribe (plain or JSON), filter,
run ``api`` and ``bgapi``. ``originate`` is parsed like mod_commands
(:func:`~telephony.simulator.originate.parse_originate`) and creates a simulated outbound leg
carrying the ``{...}`` channel variables: destinations listed in ``outcomes`` fail with their
cause (``USER_BUSY``, ``NO_ANSWER``...), ``error/<cause>`` fails like FreeSWITCH's error
endpoint, everything else answers after ``answer_delay_s``. The answered leg then runs its
``&app(arg)`` or is routed to ``<exten> <dialplan> <context>`` in ``dialplan`` (the shipped one),
as a :class:`SimulatedCall` whose ``socket`` connects to ``socket_target``. ``uuid_kill`` hangs
a leg up; every leg's events go to each subscribed connection that matches its filters.
With ``behaviour`` (:class:`~telephony.simulator.dialing.OutcomeMix` or any callable) each
originate rings, then answers with its own caller script or fails with a cause
(:mod:`telephony.simulator.dialing`); every originate received is in :attr:`originate_log`,
every other ``api``/``bgapi`` command in :attr:`api_log`. :meth:`outage` drops every inbound
connection and refuses new ones (the legs live on, their events reach nobody) until
:meth:`restore`.
With a
:class:`~telephony.simulator.callcenter.CallCenter` its legs queue there, ``callcenter_config``
drives it and its ``CUSTOM callcenter::info`` events go to the subscribers too.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid as uuidlib
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

from telephony.esl import (
    Api,
    Auth,
    BgApi,
    CommandParser,
    EslRemoteError,
    Exit,
    Filter,
    FilterDelete,
    NixEvent,
    NoEvents,
    Subscribe,
    frames,
)
from telephony.simulator.api import run_api
from telephony.simulator.callcenter import CallCenter
from telephony.simulator.channel import Headers, SimChannel, preamble
from telephony.simulator.dialing import ANSWERED, DialOutcome, OriginateRecord
from telephony.simulator.dialplan import Dialplan
from telephony.simulator.originate import OriginateRequest, parse_originate
from telephony.simulator.outbound import CallResult, SimulatedCall
from telephony.simulator.script import CallerScript


@dataclass
class _Listener:
    writer: asyncio.StreamWriter
    events: set[str] = field(default_factory=set)
    format: str = "plain"
    filters: list[tuple[str, str]] = field(default_factory=list)

    def wants(self, name: str, headers: Mapping[str, str]) -> bool:
        if name == "CUSTOM" and "ALL" not in self.events:
            # a CUSTOM event reaches those who named its subclass (``CUSTOM callcenter::info``)
            if "CUSTOM" not in self.events or headers.get("Event-Subclass") not in self.events:
                return False
        elif name not in self.events and "ALL" not in self.events:
            return False
        return all(headers.get(h) == v for h, v in self.filters) if self.filters else True


class InboundSwitch:
    """A simulated FreeSWITCH accepting inbound ESL connections."""

    def __init__(
        self,
        password: str = "ClueCon",  # noqa: S107 - FreeSWITCH's well-known default
        *,
        outcomes: Mapping[str, str] | None = None,
        answer_delay_s: float = 0.0,
        socket_target: tuple[str, int] | None = None,
        script: CallerScript | None = None,
        time_scale: float = 0.0,
        dialplan: Dialplan | None = None,
        behaviour: Callable[[OriginateRequest, str], DialOutcome] | None = None,
        callcenter: CallCenter | None = None,
    ) -> None:
        self.password = password
        self.behaviour = behaviour
        self.originate_log: list[OriginateRecord] = []
        self.api_log: list[tuple[float, str, str]] = []
        """``(loop time, command, argument)`` of every api/bgapi command but ``originate``."""
        self._address: tuple[str, int] | None = None
        self.callcenter = callcenter
        if callcenter is not None:
            callcenter.listeners.append(self._broadcast)
        self.outcomes = dict(outcomes or {})
        self.answer_delay_s = answer_delay_s
        self.socket_target = socket_target
        self.script = script or CallerScript()
        self.time_scale = time_scale
        self.dialplan = dialplan
        self.channels: dict[str, SimChannel] = {}
        self.calls: dict[str, SimulatedCall] = {}
        self.results: list[CallResult] = []
        self.originated = 0
        self._listeners: list[_Listener] = []
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> tuple[str, int]:
        """Listen; return the bound address."""
        self._server = await asyncio.start_server(self._serve, host, port)
        sock = self._server.sockets[0].getsockname()
        self._address = (str(sock[0]), int(sock[1]))
        return self._address

    @property
    def address(self) -> tuple[str, int]:
        """Where it listens (after :meth:`start`)."""
        assert self._address is not None, "not started"
        return self._address

    async def outage(self) -> None:
        """The event socket goes away: listening stops, every connection is aborted (the
        channels carry on; their events, a hangup included, reach no one)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        self.drop_connections()

    async def restore(self) -> None:
        """Listen again on the same address after :meth:`outage`."""
        if self._server is None and self._address is not None:
            self._server = await asyncio.start_server(self._serve, *self._address)

    async def close(self) -> None:
        """Stop listening, drop every connection and leg."""
        if self._server is not None:
            self._server.close()
        for listener in list(self._listeners):
            listener.writer.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def drop_connections(self) -> None:
        """Abort every inbound connection (to test reconnects)."""
        for listener in list(self._listeners):
            listener.writer.transport.abort()

    def _spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        listener = _Listener(writer)
        parser = CommandParser()
        authed = False
        writer.write(frames.auth_request())
        self._listeners.append(listener)
        try:
            while data := await reader.read(65536):
                for command in parser.feed(data):
                    if not authed:
                        if isinstance(command, Auth) and command.password == self.password:
                            authed = True
                            writer.write(frames.command_reply("+OK accepted"))
                            continue
                        writer.write(frames.command_reply("-ERR invalid"))
                        writer.write(frames.disconnect_notice())
                        return
                    if isinstance(command, Exit):
                        writer.write(frames.command_reply("+OK bye"))
                        writer.write(frames.disconnect_notice())
                        return
                    self._handle(listener, command)
        except (EslRemoteError, ConnectionError):
            pass
        finally:
            self._listeners.remove(listener)
            with contextlib.suppress(ConnectionError, OSError):
                writer.close()

    def _handle(self, listener: _Listener, command: object) -> None:
        writer = listener.writer
        if isinstance(command, Subscribe):
            listener.format = command.format
            listener.events.update(command.names)
            writer.write(frames.command_reply(f"+OK event listener enabled {command.format}"))
        elif isinstance(command, NixEvent):
            listener.events.difference_update(command.names)
            writer.write(frames.command_reply("+OK events nixed"))
        elif isinstance(command, NoEvents):
            listener.events.clear()
            writer.write(frames.command_reply("+OK no longer listening for events"))
        elif isinstance(command, Filter):
            listener.filters.append((command.header, command.value))
            writer.write(
                frames.command_reply(f"+OK filter added. [{command.header}]=[{command.value}]")
            )
        elif isinstance(command, FilterDelete):
            if command.header == "all":
                listener.filters.clear()
            else:
                listener.filters = [f for f in listener.filters if f[0] != command.header]
            writer.write(
                frames.command_reply(
                    f"+OK filter deleted. [{command.header}][{command.value or ''}]"
                )
            )
        elif isinstance(command, Api):
            if command.command == "originate":
                writer.write(frames.api_response(b"-ERR use bgapi originate here\n"))
            else:
                writer.write(frames.api_response(self._api(command.command, command.arg).encode()))
        elif isinstance(command, BgApi):
            job = command.job_uuid or str(uuidlib.uuid4())
            writer.write(frames.command_reply(f"+OK Job-UUID: {job}", [("Job-UUID", job)]))
            self._spawn(self._job(job, command))
        else:
            writer.write(frames.command_reply("-ERR command not found"))

    def _api(self, command: str, arg: str) -> str:
        self.api_log.append((asyncio.get_running_loop().time(), command, arg))
        media = {uuid: call.streaming for uuid, call in self.calls.items()}
        return run_api(
            command,
            arg,
            self.channels,
            kill=self._kill,
            total=self.originated,
            media=media,
            callcenter=self.callcenter,
        )

    async def _job(self, job: str, command: BgApi) -> None:
        if command.command == "originate":
            text = await self._originate(command.arg)
        else:
            text = self._api(command.command, command.arg)
        headers = preamble("BACKGROUND_JOB")
        headers += [("Job-UUID", job), ("Job-Command", command.command)]
        if command.arg:
            headers.append(("Job-Command-Arg", command.arg))
        self._broadcast("BACKGROUND_JOB", headers, text.encode())

    async def _originate(self, arg: str) -> str:
        try:
            request = parse_originate(arg)
        except ValueError as exc:
            return (
                f"{exc}\n" if str(exc).startswith("-USAGE") else "-ERR DESTINATION_OUT_OF_ORDER\n"
            )
        target = request.endpoint
        destination = target.rsplit("/", 1)[-1].split("@")[0]
        loop = asyncio.get_running_loop()
        record = OriginateRecord(
            request.variables.get("origination_uuid") or str(uuidlib.uuid4()),
            destination,
            target,
            dict(request.variables),
            loop.time(),
        )
        self.originate_log.append(record)
        text = await self._dial(request, record, destination)
        if not text.startswith("+OK"):
            record.outcome = text.removeprefix("-ERR").strip() or "UNKNOWN"
            record.ended_at = loop.time()
        return text

    async def _dial(
        self, request: OriginateRequest, record: OriginateRecord, destination: str
    ) -> str:
        target = request.endpoint
        if target.startswith("error/"):
            return f"-ERR {target[6:].upper()}\n"
        for pattern, cause in self.outcomes.items():
            if pattern in target:
                return f"-ERR {cause}\n"
        fate = self.behaviour(request, destination) if self.behaviour else DialOutcome()
        variables = request.variables
        channel = SimChannel(
            caller=variables.get("origination_caller_id_number")
            or request.caller_id_number
            or "0000",
            destination=destination,
            uuid=record.uuid,
            state="CS_INIT",
            call_state="DOWN",
            direction="outbound",
        )
        channel.variables.update(variables)
        self.channels[channel.uuid] = channel
        self.originated += 1
        self._channel_event(channel, "CHANNEL_CREATE")
        timeout = _originate_timeout(variables, request.timeout_s)
        await asyncio.sleep(self.answer_delay_s + min(fate.ring_s, timeout))
        if channel.hangup_cause is None and (fate.cause is not None or fate.ring_s > timeout):
            self._finish(channel, fate.cause or "NO_ANSWER")
            return f"-ERR {fate.cause or 'NO_ANSWER'}\n"
        if channel.hangup_cause is not None:
            return f"-ERR {channel.hangup_cause}\n"
        record.outcome = ANSWERED
        channel.state, channel.call_state, channel.answer_state = "CS_EXECUTE", "ACTIVE", "answered"
        channel.variables["endpoint_disposition"] = "ANSWER"  # as switch_channel_mark_answered
        channel.media = True
        self._channel_event(channel, "CHANNEL_ANSWER")
        script = fate.script or self.script
        if request.application is not None:
            call = self._leg(channel, extension=[request.application], script=script)
        else:
            assert request.extension is not None
            exten, _, context = request.extension
            call = self._leg(channel, context=context, script=script)
            channel.destination = exten
        self.calls[channel.uuid] = call
        self._spawn(self._run_leg(call, record))
        return f"+OK {channel.uuid}\n"

    def _leg(
        self,
        channel: SimChannel,
        *,
        extension: list[tuple[str, str]] | None = None,
        context: str = "default",
        script: CallerScript | None = None,
    ) -> SimulatedCall:
        return SimulatedCall(
            script or self.script,
            time_scale=self.time_scale,
            dialplan=self.dialplan,
            context=context,
            channel=channel,
            extension=extension,
            observer=self._broadcast,
            callcenter=self.callcenter,
        )

    async def _run_leg(self, call: SimulatedCall, record: OriginateRecord | None = None) -> None:
        uuid = call.channel.uuid
        try:
            target = self.socket_target
            host, port = target if target is not None else (None, None)
            self.results.append(await call.run(host, port, deadline_s=600))
        finally:
            self.calls.pop(uuid, None)
            self.channels.pop(uuid, None)
            if record is not None:
                record.ended_at = asyncio.get_running_loop().time()

    def _kill(self, channel: SimChannel, cause: str) -> None:
        call = self.calls.get(channel.uuid)
        if call is not None:
            call.start_hangup(cause, "ivr")
        else:
            self._finish(channel, cause)

    def _finish(self, channel: SimChannel, cause: str) -> None:
        if channel.uuid not in self.channels:
            return
        channel.hangup_cause = cause
        channel.answer_state = "hangup"
        self._channel_event(channel, "CHANNEL_HANGUP")
        channel.state, channel.call_state = "CS_REPORTING", "HANGUP"
        self._channel_event(channel, "CHANNEL_HANGUP_COMPLETE")
        del self.channels[channel.uuid]

    def _channel_event(self, channel: SimChannel, name: str) -> None:
        self._broadcast(name, channel.event(name))

    def _broadcast(self, name: str, headers: Headers, body: bytes = b"") -> None:
        lookup = dict(headers)
        for listener in self._listeners:
            if listener.wants(name, lookup):
                encode = frames.event_json if listener.format == "json" else frames.event_plain
                listener.writer.write(encode(headers, body))


def _originate_timeout(variables: Mapping[str, str], default_s: int) -> float:
    """``originate_timeout`` (seconds) as FreeSWITCH reads it, else the command's timeout."""
    value = variables.get("originate_timeout", "")
    return float(value) if value.isdigit() and int(value) > 0 else float(default_s)
