"""One multiplexed, pipelined Redis connection for the gate script (the dial-time hot path).

Every concurrent check writes its ``EVALSHA`` at once into one shared connection (writes of one
loop turn are coalesced into one ``write``) and waits for its reply; Redis answers in order, so
replies are matched to callers first-in first-out as hiredis parses them. Each check is still
its own atomic Lua run. Compared with redis-py's pooled connections this removes the pool
checkout, the per-command reader timeout and the Python packing and parsing from the hot path
(``bench/bench_gate.py`` measures the difference).

Faults: a connection that breaks, sends bytes hiredis cannot parse, or leaves its oldest pending
reply unanswered for ``timeout_s`` is closed and every caller waiting on it gets
:class:`ConnectionError`; the next call reconnects (``AUTH``/``SELECT`` from the URL). A missing
script (Redis restarted or flushed) is loaded and the call sent once more. An error reply raises
:class:`redis.exceptions.ResponseError` for that call only. The caller bounds each call with its
own timeout (the gate fails closed on it); a cancelled caller's reply is read and dropped.

URLs: ``redis://[[user]:password@]host[:port][/db]``; ``rediss://`` connects with TLS, verified
against the system's CA store and the host name (query options such as ``ssl_cert_reqs`` are
not read: a gate must not talk to an unverified Redis).
"""

from __future__ import annotations

import asyncio
import collections
import hashlib
import ssl
import time
from typing import Any, cast

import hiredis
from redis.asyncio import RedisCluster
from redis.connection import parse_url
from redis.exceptions import NoScriptError, ResponseError


def pack(*parts: str | int | bytes) -> bytes:
    """One command in RESP (an array of bulk strings)."""
    out = [b"*%d\r\n" % len(parts)]
    for part in parts:
        raw = part if isinstance(part, bytes) else str(part).encode()
        out.append(b"$%d\r\n%b\r\n" % (len(raw), raw))
    return b"".join(out)


class _RespProtocol(asyncio.Protocol):
    """Writes coalesced per loop turn; replies resolve waiting futures in order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, timeout_s: float) -> None:
        self._loop = loop
        self._timeout_s = timeout_s
        self._reader = hiredis.Reader(encoding="utf-8")
        self._waiting: collections.deque[tuple[float, asyncio.Future[Any]]] = collections.deque()
        self._out: list[bytes] = []
        self._transport: asyncio.Transport | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self.closed: Exception | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        try:
            self._reader.feed(data)
            while (reply := self._reader.gets()) is not False:
                if not self._waiting:
                    raise hiredis.ProtocolError("reply without a request")
                _, future = self._waiting.popleft()
                if not future.done():
                    future.set_result(reply)
        except hiredis.ProtocolError as exc:
            self.abort(ConnectionError(f"redis protocol error: {exc}"))

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_all(ConnectionError(f"redis connection lost: {exc or 'closed by peer'}"))

    def send(self, data: bytes) -> asyncio.Future[Any]:
        if self.closed is not None or self._transport is None:
            raise ConnectionError("redis connection closed")
        future: asyncio.Future[Any] = self._loop.create_future()
        if not self._out:
            self._loop.call_soon(self._flush)
        self._out.append(data)
        self._waiting.append((time.monotonic(), future))
        if self._watchdog is None:
            self._watchdog = self._loop.call_later(self._timeout_s, self._check_stalled)
        return future

    def _flush(self) -> None:
        if self._out and self._transport is not None and self.closed is None:
            self._transport.write(b"".join(self._out))
        self._out.clear()

    def _check_stalled(self) -> None:
        self._watchdog = None
        if not self._waiting or self.closed is not None:
            return
        age = time.monotonic() - self._waiting[0][0]
        if age >= self._timeout_s:
            self.abort(ConnectionError(f"redis did not answer within {self._timeout_s:.3f} s"))
        else:
            self._watchdog = self._loop.call_later(self._timeout_s - age, self._check_stalled)

    def abort(self, exc: Exception) -> None:
        self._fail_all(exc)
        if self._transport is not None:
            self._transport.abort()

    def _fail_all(self, exc: Exception) -> None:
        if self.closed is None:
            self.closed = exc
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        while self._waiting:
            _, future = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc)
                future.exception()  # a caller that already gave up must not warn on GC
        self._out.clear()


class PipelinedScript:
    """Run one Lua script by ``EVALSHA`` over a shared pipelined connection."""

    def __init__(self, url: str, script: str, timeout_s: float) -> None:
        self._params: dict[str, Any] = parse_url(url)  # type: ignore[no-untyped-call]
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis script id
        self._timeout_s = timeout_s
        self._conn: _RespProtocol | None = None
        self._connecting: asyncio.Future[_RespProtocol] | None = None

    async def run(self, keys: list[str], args: list[str | int]) -> Any:
        """The script's reply; raises ConnectionError/TimeoutError/ResponseError."""
        packed = pack("EVALSHA", self._sha, len(keys), *keys, *args)
        conn = self._conn if self._conn is not None and self._conn.closed is None else None
        if conn is None:
            conn = await self._connect()
        reply = await conn.send(packed)
        if isinstance(reply, hiredis.ReplyError) and str(reply).startswith("NOSCRIPT"):
            loaded = await conn.send(pack("SCRIPT", "LOAD", self._script))
            if isinstance(loaded, hiredis.ReplyError):
                raise ResponseError(str(loaded))
            reply = await conn.send(packed)
        if isinstance(reply, hiredis.ReplyError):
            raise ResponseError(str(reply))
        return reply

    async def _connect(self) -> _RespProtocol:
        # concurrent callers share one connection attempt
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.ensure_future(self._open())
        return await asyncio.shield(self._connecting)

    async def _open(self) -> _RespProtocol:
        loop = asyncio.get_running_loop()
        params = self._params
        context = ssl.create_default_context() if params.get("connection_class") else None
        conn: _RespProtocol | None = None
        try:
            async with asyncio.timeout(self._timeout_s):
                _, conn = await loop.create_connection(
                    lambda: _RespProtocol(loop, self._timeout_s),
                    params.get("host", "localhost"),
                    int(params.get("port", 6379)),
                    ssl=context,
                )
                for command in self._setup_commands():
                    reply = await conn.send(command)
                    if isinstance(reply, hiredis.ReplyError):
                        raise ConnectionError(f"redis connection setup failed: {reply}")
        except BaseException:
            if conn is not None:
                conn.abort(ConnectionError("redis connection setup failed"))
            raise
        self._conn = conn
        return conn

    def _setup_commands(self) -> list[bytes]:
        params = self._params
        setup: list[bytes] = []
        if params.get("password") is not None:
            user = params.get("username")
            setup.append(
                pack("AUTH", *((user, params["password"]) if user else (params["password"],)))
            )
        if int(params.get("db", 0) or 0):
            setup.append(pack("SELECT", int(params["db"])))
        return setup

    async def close(self) -> None:
        if self._conn is not None:
            self._conn.abort(ConnectionError("redis connection closed"))
            self._conn = None


class ClusterScript:
    """The same script on a Redis Cluster: ``EVALSHA`` through redis-py's cluster client, which
    routes by the first key's slot and follows MOVED/ASK (all keys must share one slot)."""

    def __init__(self, client: RedisCluster, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis script id

    async def run(self, keys: list[str], args: list[str | int]) -> Any:
        """The script's reply; raises redis-py's errors."""
        try:
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)
        except NoScriptError:
            await self._client.script_load(self._script)  # loaded on every primary
            return await self._client.evalsha(self._sha, len(keys), *keys, *args)

    async def close(self) -> None:
        """The cluster client is the store's; it closes it."""
