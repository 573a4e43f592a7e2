"""``CallSession``: the typed, high-level API of one outbound-socket call.

Every dialplan application runs through :meth:`CallSession.execute`: ``sendmsg`` with a fresh
``Event-UUID``, then the ``CHANNEL_EXECUTE_COMPLETE`` whose ``Application-UUID`` matches. DTMF
digits are queued as they arrive, whatever plays (a digit pressed over a prompt stays queued
until read: :meth:`CallSession.pending_dtmf` peeks, :meth:`CallSession.drain_dtmf` and
:meth:`CallSession.wait_for_dtmf` consume). When the channel hangs up (caller or us), everything
pending raises :class:`CallEndedError`; when the connection fails, it raises the connection's
error. The channel's variables as they were at ``connect`` are :attr:`CallSession.channel_variables`
(the dialler's ``ivr_*`` originate variables, ``ivr_recording_path`` of the dialplan's
``record_session``, and, on a call the ``callback_ticket`` extension brought back after a queue,
``ivr_callback_requested``, the variables the app set before the transfer and
:attr:`CallSession.queue_exit`). Logs carry the call UUID only, never digits or numbers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid as uuidlib
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, TypeVar, Unpack

from ivr.errors import IvrError
from telephony.call_info import (
    DIGIT_DEFAULTS,
    ChannelView,
    DigitOptions,
    DigitsResult,
    PlaybackResult,
    QueueExit,
    RecordResult,
    digits_result,
    int_or_none,
)
from telephony.connection import EslConnection
from telephony.errors import CallEndedError, CommandFailedError
from telephony.esl import Api, Event, Execute, Exit, GetVar, Hangup, Message

log = logging.getLogger(__name__)

EventListener = Callable[[Event], None]
T = TypeVar("T")


__all__ = ["CallSession", "DigitsResult", "PlaybackResult", "QueueExit", "RecordResult"]


class CallSession(ChannelView):
    """One call on the outbound socket. Built by the server after ``connect``."""

    def __init__(self, conn: EslConnection, channel_data: Event) -> None:
        self._conn = conn
        self.channel_data = channel_data
        self.uuid: str = channel_data.unique_id or channel_data.get("Channel-Unique-ID") or ""
        self.hangup_cause: str | None = None
        self.hangup_event: Event | None = None  # CHANNEL_HANGUP, with the channel's variables
        self.released = False
        self.let_go_sent = False  # the app let the channel go (let_go): after-call work runs on
        self._ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._hangup_complete = asyncio.Event()
        self._disconnected = asyncio.Event()
        self._apps: dict[str, asyncio.Future[Event]] = {}
        self._dtmf: deque[str] = deque()
        self._dtmf_arrived = asyncio.Event()
        self._listeners: list[EventListener] = []
        self.events_seen = 0

    # -- information -----------------------------------------------------------------------

    @property
    def is_hung_up(self) -> bool:
        """True once CHANNEL_HANGUP (or the end of the connection) was seen."""
        return self._ended.done()

    def add_listener(self, listener: EventListener) -> None:
        """Call ``listener`` with every event of this call (for the flow, speech, records)."""
        self._listeners.append(listener)

    # -- the high-level API ----------------------------------------------------------------

    async def answer(self) -> None:
        """Answer the call."""
        await self.execute("answer")

    async def play(self, source: str) -> str:
        """Play a file, ``tone_stream://`` or ``say:``/TTS source; return the playback result."""
        done = await self.execute("playback", source)
        return done.get("Application-Response") or ""

    async def play_prompt(self, source: str) -> PlaybackResult:
        """Play ``source``, interruptible by the ``playback_terminators`` digits (see
        :meth:`set_playback_terminators`); the digits pressed meanwhile stay queued."""
        done = await self.execute("playback", source)
        return PlaybackResult(
            done.get("Application-Response") or "",
            done.get("variable_playback_terminator_used") or None,
            int_or_none(done.get("variable_playback_ms")),
            self.pending_dtmf(),
        )

    async def set_playback_terminators(self, digits: str) -> None:
        """Which digits end a ``playback``: ``"any"``, ``"none"`` or e.g. ``"#*"``."""
        await self.set_variable("playback_terminators", digits)

    async def collect_digits(self, prompt: str, **options: Unpack[DigitOptions]) -> DigitsResult:
        """``play_and_get_digits``: play ``prompt`` and collect digits, counting the ones
        pressed while it plays (the first one ends the prompt). One try unless ``tries``."""
        o = DIGIT_DEFAULTS | options
        parts = [
            str(o["min_digits"]),
            str(o["max_digits"]),
            str(o.get("tries", 1)),
            str(o["timeout_ms"]),
            o["terminators"] or "none",
            prompt,
            o["invalid_prompt"],
            o["variable"],
            o["regex"],
        ]
        if "digit_timeout_ms" in o:
            parts.append(str(o["digit_timeout_ms"]))
        done = await self.execute("play_and_get_digits", " ".join(parts))
        return digits_result(done, o["variable"])

    async def play_and_get_digits(self, prompt: str, **options: Unpack[DigitOptions]) -> str:
        """Play ``prompt`` and collect digits (``""`` if the caller entered nothing valid);
        three tries unless ``tries``."""
        return (await self.collect_digits(prompt, **({"tries": 3} | options))).digits

    async def record(
        self,
        path: str,
        *,
        max_seconds: int = 30,
        silence_threshold: int = 200,
        silence_seconds: int = 3,
    ) -> RecordResult:
        """Record the caller into ``path`` until silence, ``max_seconds`` or a terminator."""
        done = await self.execute(
            "record", f"{path} {max_seconds} {silence_threshold} {silence_seconds}"
        )
        ms = done.get("variable_record_ms")
        return RecordResult(
            path,
            done.get("variable_silence_hits_exhausted") == "true",
            int(ms) if ms and ms.isdigit() else None,
        )

    async def record_session(self, path: str) -> None:
        """Record the whole call (both legs) into ``path`` until hangup."""
        await self.execute("record_session", path)

    async def stop_record_session(self, path: str) -> None:
        """Stop a ``record_session``."""
        await self.execute("stop_record_session", path)

    async def set_variable(self, name: str, value: str) -> None:
        """Set one channel variable."""
        await self.execute("set", f"{name}={value}")

    async def set_variables(self, values: Mapping[str, str]) -> None:
        """Set several channel variables, in order."""
        for name, value in values.items():
            await self.set_variable(name, value)

    async def get_variable(self, name: str) -> str | None:
        """The current value of a channel variable (``None`` if unset: FreeSWITCH then answers
        ``getvar`` with ``-ERR command not found``)."""
        reply = await self._command(GetVar(name))
        text = reply.reply_text
        if text is None or text in ("", "_undef_") or text.startswith("-ERR"):
            return None
        return text

    async def transfer(
        self,
        extension: str,
        dialplan: str = "XML",
        context: str = "default",
        *,
        variables: Mapping[str, str] | None = None,
    ) -> None:
        """Transfer the call to a dialplan extension, after setting ``variables`` on the
        channel (they come back if the dialplan reconnects to the app); this session then
        lets it go."""
        if variables:
            await self.set_variables(variables)
        self.released = True
        await self.execute("transfer", f"{extension} {dialplan} {context}")

    async def bridge(self, target: str) -> str:
        """Bridge to a dial string; return once the bridge ends (``Application-Response``)."""
        done = await self.execute("bridge", target)
        return done.get("Application-Response") or ""

    async def enqueue(
        self, queue: str, *, priority: bool = False, variables: Mapping[str, str] | None = None
    ) -> None:
        """Put the caller into a mod_callcenter queue (``senior`` / ``general``) via transfer.
        ``variables`` (e.g. ``ivr_call_id``, ``ivr_queue_reason``) go to the agent through
        ``cc_export_vars`` and come back with the channel after a queue timeout."""
        values = dict(variables or {})
        if priority:
            values["cc_base_score"] = "1000"
        await self.transfer(f"queue_{queue}", "XML", "ivr", variables=values)

    async def hangup(self, cause: str = "NORMAL_CLEARING") -> None:
        """Hang up with ``cause`` (no-op if the call already ended)."""
        if self.is_hung_up:
            return
        await self._command(Hangup(cause))
        await self.wait_hangup()

    async def wait_for_dtmf(self, count: int = 1, *, timeout_s: float | None = None) -> str:
        """Wait for ``count`` digits (fewer if ``timeout`` expires first); they are consumed."""
        digits: list[str] = []
        loop = asyncio.get_running_loop()
        deadline = None if timeout_s is None else loop.time() + timeout_s
        while len(digits) < count:
            if self._dtmf:
                digits.append(self._dtmf.popleft())
                continue
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                break
            self._dtmf_arrived.clear()
            try:
                await self._race(asyncio.ensure_future(self._dtmf_arrived.wait()), remaining)
            except TimeoutError:
                break
        return "".join(digits)

    def pending_dtmf(self) -> str:
        """The digits received so far and not yet read, without consuming them."""
        return "".join(self._dtmf)

    def drain_dtmf(self) -> str:
        """The digits received so far and not yet read (without waiting); the queue is emptied."""
        digits = "".join(self._dtmf)
        self._dtmf.clear()
        return digits

    async def wait_hangup(self, timeout_s: float | None = None) -> str | None:
        """Wait until the channel hangs up; return the hangup cause."""
        if not self._ended.done():
            waitables: set[asyncio.Future[Any]] = {self._ended, self._conn.closed}
            await asyncio.wait(
                waitables,
                timeout=timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
            if self._conn.closed.done() and not self._ended.done():
                self._raise_closed()
        return self.hangup_cause

    async def let_go(self, timeout_s: float = 5.0) -> None:
        """The app is done with the channel (it hung up and its end is recorded): ``exit`` now,
        so FreeSWITCH frees the lingering channel while the app finishes its own after-call
        work (sealing the recording, QA) without holding the socket. The server then waits for
        the handler to return without counting the closed connection as a failure. Bounded by
        ``timeout_s``; a connection already gone is fine."""
        if self.let_go_sent:
            return
        self.let_go_sent = True
        if not self._conn.is_open:
            return
        with contextlib.suppress(IvrError):  # dropped, timed out: the channel is gone either way
            await self._conn.send(Exit(), timeout_s=timeout_s)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s):
                await asyncio.shield(self._conn.closed)

    async def api(self, command: str, arg: str = "", *, timeout_s: float | None = None) -> Message:
        """Run an ``api`` command on this connection."""
        return await self._conn.send(Api(command, arg), timeout_s=timeout_s)

    async def execute(self, app: str, arg: str | None = None) -> Event:
        """Run ``app`` and return its CHANNEL_EXECUTE_COMPLETE event."""
        if self.is_hung_up:
            raise CallEndedError(self.hangup_cause)
        event_uuid = str(uuidlib.uuid4())
        future: asyncio.Future[Event] = asyncio.get_running_loop().create_future()
        self._apps[event_uuid] = future
        try:
            await self._command(Execute(app, arg, event_uuid))
            return await self._race(future, None)
        finally:
            self._apps.pop(event_uuid, None)

    # -- plumbing --------------------------------------------------------------------------

    async def _command(self, command: Execute | Hangup | GetVar) -> Message:
        reply = await self._conn.send(command)
        if not reply.ok and not isinstance(command, GetVar):
            raise CommandFailedError(f"{type(command).__name__} refused: {reply.text[:80]}")
        return reply

    async def _race(self, future: asyncio.Future[T], timeout_s: float | None) -> T:
        """``future``'s result, unless the call hangs up or the connection fails first."""
        try:
            waitables: set[asyncio.Future[Any]] = {future, self._ended, self._conn.closed}
            done, _ = await asyncio.wait(
                waitables,
                timeout=timeout_s,
                return_when=asyncio.FIRST_COMPLETED,
            )
        except asyncio.CancelledError:
            future.cancel()
            raise
        if future.done():
            return future.result()
        future.cancel()
        if not done:
            raise TimeoutError
        if self._ended.done():
            raise CallEndedError(self.hangup_cause)
        self._raise_closed()
        raise AssertionError("unreachable")

    def _raise_closed(self) -> None:
        exc = self._conn.closed.result()
        if exc is None:
            raise CallEndedError(self.hangup_cause)
        raise exc

    def on_event(self, event: Event) -> None:
        """Route one event of this connection (called by the connection's reader)."""
        self.events_seen += 1
        name = event.name
        if name == "CHANNEL_EXECUTE_COMPLETE":
            app_uuid = event.application_uuid
            future = self._apps.get(app_uuid) if app_uuid else None
            if future is not None and not future.done():
                future.set_result(event)
        elif name == "DTMF":
            digit = event.get("DTMF-Digit")
            if digit:
                self._dtmf.append(digit)
                self._dtmf_arrived.set()
        elif name == "CHANNEL_HANGUP":
            self.hangup_event = self.hangup_event or event
            self._mark_hungup(event.get("Hangup-Cause"))
        elif name == "CHANNEL_HANGUP_COMPLETE":
            self.hangup_event = self.hangup_event or event
            self._mark_hungup(event.get("Hangup-Cause"))
            self._hangup_complete.set()
        for listener in self._listeners:
            listener(event)

    def on_message(self, message: Message) -> None:
        """A non-event, non-reply frame: the disconnect notice."""
        if message.content_type == "text/disconnect-notice":
            if message.headers.get("Content-Disposition") != "linger":
                self._disconnected.set()
            self._mark_hungup(self.hangup_cause)

    def _mark_hungup(self, cause: str | None) -> None:
        if self._ended.done():
            return
        self.hangup_cause = cause
        self._ended.set_result(None)
        log.info("call %s hung up (%s)", self.uuid, cause)
        for future in self._apps.values():
            if not future.done():
                future.set_exception(CallEndedError(cause))
                future.add_done_callback(_consume)

    async def wait_finished(self, timeout_s: float) -> None:
        """After the call: wait for CHANNEL_HANGUP_COMPLETE or a disconnect notice (bounded)."""
        waiters: list[asyncio.Future[Any]] = [
            asyncio.ensure_future(self._hangup_complete.wait()),
            asyncio.ensure_future(self._disconnected.wait()),
        ]
        await asyncio.wait(
            [*waiters, self._conn.closed], timeout=timeout_s, return_when="FIRST_COMPLETED"
        )
        for waiter in waiters:
            waiter.cancel()


def _consume(future: asyncio.Future[Event]) -> None:
    if not future.cancelled():
        future.exception()
