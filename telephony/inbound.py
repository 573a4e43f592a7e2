"""The asyncio inbound ESL client (``127.0.0.1:8021``): the dialler's handle on FreeSWITCH.

``auth``, event subscriptions and filters (replayed after every reconnect), ``api``, ``bgapi``
resolved by its ``BACKGROUND_JOB`` (we choose the ``Job-UUID``, so no race with the reply),
``originate`` returning the answer or the failure cause (its argument built by
:mod:`telephony.esl.dialstring`: escaped channel variables, a quoted ``&app(arg)`` or an
``<extension> XML <context>`` target), and ``uuid_*`` helpers. A supervisor
task reconnects with exponential backoff when the connection drops.
"""

from __future__ import annotations

import asyncio
import logging
import uuid as uuidlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ivr.supervise import cancel_and_wait
from telephony.connection import EslConnection
from telephony.errors import CommandFailedError, ConnectionDroppedError, EslRemoteError
from telephony.esl import (
    Api,
    Auth,
    BgApi,
    Event,
    Execute,
    Filter,
    Message,
    Subscribe,
)
from telephony.esl.dialstring import PARK, OriginateTarget, originate_arg

log = logging.getLogger(__name__)

DEFAULT_EVENTS = (
    "CHANNEL_CREATE",
    "CHANNEL_ANSWER",
    "CHANNEL_HANGUP_COMPLETE",
    "BACKGROUND_JOB",
    "DTMF",
)


@dataclass(frozen=True, slots=True)
class OriginateResult:
    """Outcome of an originate: the new channel's UUID, or the failure cause."""

    ok: bool
    uuid: str | None = None
    cause: str | None = None


class InboundClient:
    """A reconnecting inbound ESL connection."""

    def __init__(
        self,
        host: str,
        port: int,
        password: str,
        *,
        events: tuple[str, ...] = DEFAULT_EVENTS,
        event_format: str = "plain",
        reply_timeout_s: float = 10.0,
        backoff_s: tuple[float, float] = (0.2, 30.0),
    ) -> None:
        self.host, self.port = host, port
        self._password = password
        self._events = events
        self._format = event_format
        self._reply_timeout = reply_timeout_s
        self._backoff = backoff_s
        self._filters: list[tuple[str, str]] = []
        self._jobs: dict[str, asyncio.Future[Event]] = {}
        self._listeners: list[Callable[[Event], None]] = []
        self._connect_listeners: list[Callable[[int], None]] = []
        self._conn: EslConnection | None = None
        self._ready = asyncio.Event()
        self._auth: asyncio.Future[Message] | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._closing = False
        self.connects = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect (retrying with backoff) and keep the connection up until :meth:`close`."""
        if self._supervisor is None:
            self._supervisor = asyncio.create_task(self._maintain(), name="esl-inbound")
        waiter = asyncio.ensure_future(self._ready.wait())
        done, _ = await asyncio.wait({waiter, self._supervisor}, return_when="FIRST_COMPLETED")
        if self._supervisor in done:
            waiter.cancel()
            self._supervisor.result()

    async def close(self) -> None:
        """Stop reconnecting and close the connection."""
        self._closing = True
        if self._supervisor is not None and not await cancel_and_wait(self._supervisor):
            log.error("ESL inbound %s:%s: the connection task did not stop", self.host, self.port)
        if self._conn is not None:
            await self._conn.aclose()

    @property
    def ready(self) -> bool:
        """Connected and authenticated right now (a dialler holds its attempts while not)."""
        return self._ready.is_set()

    def add_listener(self, listener: Callable[[Event], None]) -> None:
        """Call ``listener`` with every subscribed event."""
        self._listeners.append(listener)

    def add_connect_listener(self, listener: Callable[[int], None]) -> None:
        """Call ``listener`` with the connection count each time the connection is up again
        (authenticated, subscribed, filters replayed): events that fired while it was down
        were lost, so a listener that follows channels reconciles them from here."""
        self._connect_listeners.append(listener)

    async def _maintain(self) -> None:
        delay = self._backoff[0]
        while not self._closing:
            try:
                await self._open()
            except (OSError, EslRemoteError, CommandFailedError) as exc:
                log.warning(
                    "ESL inbound %s:%s: connect failed (%s)",
                    self.host,
                    self.port,
                    type(exc).__name__,
                )
                if isinstance(exc, CommandFailedError):
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._backoff[1])
                continue
            delay = self._backoff[0]
            conn = self._conn
            assert conn is not None
            await asyncio.shield(conn.closed)
            self._ready.clear()
            for future in self._jobs.values():
                if not future.done():
                    future.set_exception(ConnectionDroppedError("inbound connection lost"))
            await conn.aclose()
            if not self._closing:
                log.warning(
                    "ESL inbound %s:%s: connection lost, reconnecting", self.host, self.port
                )

    async def _open(self) -> None:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        loop = asyncio.get_running_loop()
        self._auth = loop.create_future()
        conn = EslConnection(
            reader,
            writer,
            on_event=self._on_event,
            on_message=self._on_message,
            reply_timeout=self._reply_timeout,
            label=f"inbound-{self.host}:{self.port}",
        )
        conn.start()
        self._conn = conn
        try:
            await asyncio.wait_for(asyncio.shield(self._auth), self._reply_timeout)
        except TimeoutError:
            conn.fail(EslRemoteError("no auth/request"))
            raise EslRemoteError("no auth/request") from None
        reply = await conn.send(Auth(self._password))
        if not reply.ok:
            await conn.aclose()
            raise CommandFailedError("ESL authentication refused")
        await self._checked(Subscribe(self._format, self._events))
        for header, value in self._filters:
            await self._checked(Filter(header, value))
        self.connects += 1
        self._ready.set()
        for listener in self._connect_listeners:
            listener(self.connects)

    def _on_message(self, message: Message) -> None:
        if message.content_type == "auth/request" and self._auth and not self._auth.done():
            self._auth.set_result(message)

    def _on_event(self, event: Event) -> None:
        if event.name == "BACKGROUND_JOB":
            job = self._jobs.pop(event.job_uuid or "", None)
            if job is not None and not job.done():
                job.set_result(event)
        for listener in self._listeners:
            listener(event)

    # -- commands --------------------------------------------------------------------------

    async def _connection(self) -> EslConnection:
        await self._ready.wait()
        assert self._conn is not None
        return self._conn

    async def _checked(self, command: Subscribe | Filter | Execute) -> Message:
        assert self._conn is not None
        reply = await self._conn.send(command)
        if not reply.ok:
            raise CommandFailedError(f"{type(command).__name__} refused: {reply.text[:80]}")
        return reply

    async def subscribe_filter(self, header: str, value: str) -> None:
        """Add an event filter (kept and replayed after a reconnect)."""
        await self._connection()
        self._filters.append((header, value))
        await self._checked(Filter(header, value))

    async def api(self, command: str, arg: str = "", *, timeout_s: float | None = None) -> str:
        """Run ``api`` and return its output text."""
        conn = await self._connection()
        return (await conn.send(Api(command, arg), timeout_s=timeout_s)).text

    async def bgapi(self, command: str, arg: str = "", *, timeout_s: float = 60.0) -> str:
        """Run ``bgapi`` and return the job's result (the BACKGROUND_JOB body)."""
        conn = await self._connection()
        job_uuid = str(uuidlib.uuid4())
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._jobs[job_uuid] = future
        try:
            reply = await conn.send(BgApi(command, arg, job_uuid))
            if not reply.ok:
                raise CommandFailedError(f"bgapi refused: {reply.text[:80]}")
            event = await asyncio.wait_for(future, timeout_s)
        finally:
            self._jobs.pop(job_uuid, None)
            if not future.done():
                future.cancel()
            elif not future.cancelled():
                future.exception()  # a drop reported while the send itself failed: read, not lost
        return event.text

    async def originate(
        self,
        endpoint: str,
        target: OriginateTarget = PARK,
        *,
        variables: Mapping[str, str] | None = None,
        uuid: str | None = None,
        timeout_s: float = 90.0,
    ) -> OriginateResult:
        """Originate a call to ``endpoint`` (``sofia/gateway/<gw>/<number>``) and send the
        answered leg to ``target`` (``Extension("ivr_outbound", "XML", "ivr")``, or an
        ``Application``); ``variables`` become channel variables of the leg (any names: the
        customer number, flow, campaign, attempt id, ``originate_timeout``,
        ``ignore_early_media``, ``origination_caller_id_number``...). Returns the leg's UUID
        once answered, or the failure cause. Raises :class:`EslLocalError` for a value
        FreeSWITCH cannot carry (braces, control characters, empty)."""
        values = dict(variables or {})
        values["origination_uuid"] = uuid or values.get("origination_uuid") or str(uuidlib.uuid4())
        arg = originate_arg(endpoint, target, values)
        text = (await self.bgapi("originate", arg, timeout_s=timeout_s)).strip()
        if text.startswith("+OK"):
            return OriginateResult(True, text[3:].strip() or values["origination_uuid"])
        cause = text.removeprefix("-ERR").strip() or "UNKNOWN"
        return OriginateResult(False, None, cause)

    async def uuid_kill(self, uuid: str, cause: str = "NORMAL_CLEARING") -> bool:
        """Hang up a channel; False if it does not exist."""
        return (await self.api("uuid_kill", f"{uuid} {cause}")).startswith("+OK")

    async def uuid_exists(self, uuid: str, *, timeout_s: float | None = None) -> bool:
        """Whether the switch has channel ``uuid`` now (mod_commands answers ``true`` or
        ``false``, no newline); any other reply raises :class:`CommandFailedError`."""
        text = (await self.api("uuid_exists", uuid, timeout_s=timeout_s)).strip()
        if text not in ("true", "false"):
            raise CommandFailedError(f"uuid_exists: unexpected reply {text[:40]!r}")
        return text == "true"

    async def uuid_getvar(
        self, uuid: str, name: str, *, timeout_s: float | None = None
    ) -> str | None:
        """A channel variable, ``None`` if unset or no such channel."""
        text = await self.api("uuid_getvar", f"{uuid} {name}", timeout_s=timeout_s)
        return None if text in ("_undef_",) or text.startswith("-ERR") else text

    async def uuid_setvar(self, uuid: str, name: str, value: str) -> bool:
        """Set a channel variable."""
        return (await self.api("uuid_setvar", f"{uuid} {name} {value}")).startswith("+OK")

    async def uuid_broadcast(self, uuid: str, path: str, leg: str = "aleg") -> bool:
        """Play ``path`` to a channel."""
        return (await self.api("uuid_broadcast", f"{uuid} {path} {leg}")).startswith("+OK")

    async def uuid_break(self, uuid: str) -> bool:
        """Stop what a channel is playing."""
        return (await self.api("uuid_break", uuid)).startswith("+OK")

    async def uuid_record(self, uuid: str, action: str, path: str) -> bool:
        """``uuid_record <uuid> start|stop <path>``."""
        return (await self.api("uuid_record", f"{uuid} {action} {path}")).startswith("+OK")

    async def uuid_transfer(self, uuid: str, extension: str, context: str = "default") -> bool:
        """Transfer a channel to a dialplan extension."""
        return (await self.api("uuid_transfer", f"{uuid} {extension} XML {context}")).startswith(
            "+OK"
        )

    async def execute(self, uuid: str, app: str, arg: str | None = None) -> None:
        """``sendmsg <uuid>`` execute (the completion arrives as events)."""
        await self._connection()
        await self._checked(Execute(app, arg, str(uuidlib.uuid4()), uuid))
