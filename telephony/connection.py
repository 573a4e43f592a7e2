"""One asyncio ESL connection: writes commands, matches replies in order, dispatches the rest.

Used by both the outbound session and the inbound client. A reader task feeds the sans-IO
:class:`~telephony.esl.Parser`; ``command/reply`` and ``api/response`` frames resolve the
oldest pending command (FreeSWITCH answers in order, with events interleaved anywhere); events
and notices go to callbacks. The first failure (protocol error, EOF, a reply or a write that
takes too long) closes the connection and fails every pending command with it; ``closed``
resolves with that failure (``None`` for a clean close).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable

from ivr.supervise import cancel_and_wait
from telephony.errors import ConnectionDroppedError, PeerTimeoutError
from telephony.esl import Command, EslRemoteError, Event, Message, Parser

log = logging.getLogger(__name__)

READ_SIZE = 65536


class EslConnection:
    """ESL client side of one TCP stream (outbound session or inbound client)."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        on_event: Callable[[Event], None],
        on_message: Callable[[Message], None],
        reply_timeout: float = 10.0,
        write_timeout: float = 5.0,
        label: str = "esl",
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._on_event = on_event
        self._on_message = on_message
        self._reply_timeout = reply_timeout
        self._write_timeout = write_timeout
        self.label = label
        self._parser = Parser()
        self._pending: deque[asyncio.Future[Message]] = deque()
        loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[BaseException | None] = loop.create_future()
        self._reader_task: asyncio.Task[None] | None = None
        writer.transport.set_write_buffer_limits(high=256 * 1024)

    def start(self) -> None:
        """Start reading (call once)."""
        self._reader_task = asyncio.create_task(self._read_loop(), name=f"esl-read-{self.label}")

    @property
    def is_open(self) -> bool:
        """False once the connection failed or was closed."""
        return not self.closed.done()

    async def send(self, command: Command, *, timeout_s: float | None = None) -> Message:
        """Send ``command``; return its reply (``command/reply`` or ``api/response``)."""
        if self.closed.done():
            raise self._failure()
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        self._pending.append(future)
        self._writer.write(command.encode())
        if self._writer.transport.get_write_buffer_size() > 0:
            try:
                await asyncio.wait_for(self._writer.drain(), self._write_timeout)
            except TimeoutError:
                self.fail(PeerTimeoutError("peer stopped reading"))
            except (ConnectionError, RuntimeError) as exc:
                self.fail(ConnectionDroppedError(f"write failed: {type(exc).__name__}"))
        try:
            return await asyncio.wait_for(
                asyncio.shield(future), timeout_s if timeout_s is not None else self._reply_timeout
            )
        except TimeoutError:
            self.fail(PeerTimeoutError(f"no reply to {type(command).__name__}"))
            raise self._failure() from None

    def send_nowait(self, command: Command) -> None:
        """Write ``command`` without waiting for its reply (the reply is discarded)."""
        if self.closed.done():
            return
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        future.add_done_callback(_consume)
        self._pending.append(future)
        self._writer.write(command.encode())

    def fail(self, exc: BaseException | None) -> None:
        """Close the connection now; ``exc`` (``None`` = clean) fails every pending command."""
        if self.closed.done():
            return
        self.closed.set_result(exc)
        err = self._failure()
        while self._pending:
            future = self._pending.popleft()
            if not future.done():
                future.set_exception(err)
                future.add_done_callback(_consume)
        if exc is None:
            self._writer.close()
        else:
            self._writer.transport.abort()

    async def aclose(self) -> None:
        """Close cleanly and wait for the reader task."""
        self.fail(None)
        if self._reader_task is not None and not await cancel_and_wait(self._reader_task):
            log.error("%s: the reader task did not stop", self.label)
        with contextlib.suppress(ConnectionError, OSError):
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)

    def _failure(self) -> BaseException:
        if self.closed.done() and self.closed.result() is not None:
            exc = self.closed.result()
            assert exc is not None
            return exc
        return ConnectionDroppedError("connection closed")

    async def _read_loop(self) -> None:
        try:
            while not self.closed.done():
                data = await self._reader.read(READ_SIZE)
                if not data:
                    self._parser.feed_eof()
                    self.fail(ConnectionDroppedError("peer closed the connection"))
                    return
                for message in self._parser.feed(data):
                    self._dispatch(message)
        except EslRemoteError as exc:
            self.fail(exc)
        except (ConnectionError, OSError) as exc:
            self.fail(ConnectionDroppedError(f"read failed: {type(exc).__name__}"))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a bug in a callback: end this connection only
            log.exception("ESL %s: callback failed", self.label)
            self.fail(exc)

    def _dispatch(self, message: Message) -> None:
        if message.is_reply:
            while self._pending:
                future = self._pending.popleft()
                if not future.done():
                    future.set_result(message)
                    return
            raise EslRemoteError("reply without a pending command")
        if message.event is not None:
            self._on_event(message.event)
        else:
            self._on_message(message)


def _consume(future: asyncio.Future[Message]) -> None:
    if not future.cancelled():
        future.exception()
