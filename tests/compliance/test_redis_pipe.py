"""The gate's pipelined Redis connection: ordering, per-call errors, script reload, faults."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from urllib.parse import quote

import pytest
import redis
from helpers.redis_server import ThrowawayRedis
from redis.exceptions import ResponseError

from compliance.redis_pipe import PipelinedScript, pack

REDIS_URL = "redis://127.0.0.1:6379/0"
ECHO = "return {ARGV[1], redis.call('INCR', KEYS[1])}"
GET = "return redis.call('GET', KEYS[1])"


def test_pack_is_resp_array_of_bulk_strings() -> None:
    assert pack("SET", "k", 12, b"\xe4\xb8\xad") == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n12\r\n$3\r\n\xe4\xb8\xad\r\n"
    )


@pytest.fixture
async def key() -> AsyncIterator[str]:
    name = f"pipe-test:{uuid.uuid4().hex}"
    yield name
    redis.Redis.from_url(REDIS_URL).delete(name)


async def test_concurrent_calls_get_their_own_replies_in_order(key: str) -> None:
    pipe = PipelinedScript(REDIS_URL, ECHO, timeout_s=2.0)
    try:
        replies = await asyncio.gather(*(pipe.run([key], [f"caller-{i}"]) for i in range(500)))
    finally:
        await pipe.close()
    assert [r[0] for r in replies] == [f"caller-{i}" for i in range(500)]
    assert sorted(r[1] for r in replies) == list(range(1, 501))  # each INCR ran exactly once


async def test_error_reply_fails_only_its_own_call(key: str) -> None:
    r = redis.Redis.from_url(REDIS_URL)
    r.rpush(key, "a list, not a string")
    good = f"{key}:ok"
    r.set(good, "fine")
    pipe = PipelinedScript(REDIS_URL, GET, timeout_s=2.0)
    try:
        results = await asyncio.gather(
            pipe.run([good], []), pipe.run([key], []), pipe.run([good], []), return_exceptions=True
        )
    finally:
        await pipe.close()
        r.delete(good)
    assert results[0] == "fine" and results[2] == "fine"
    assert isinstance(results[1], ResponseError) and "WRONGTYPE" in str(results[1])


async def test_script_flushed_from_redis_is_loaded_again(throwaway_redis: ThrowawayRedis) -> None:
    pipe = PipelinedScript(throwaway_redis.url, ECHO, timeout_s=2.0)
    try:
        assert (await pipe.run(["k"], ["a"]))[1] == 1
        redis.Redis.from_url(throwaway_redis.url).script_flush()
        assert (await pipe.run(["k"], ["b"]))[1] == 2
    finally:
        await pipe.close()


async def test_url_database_is_selected(throwaway_redis: ThrowawayRedis) -> None:
    url = throwaway_redis.url.rsplit("/", 1)[0] + "/3"
    pipe = PipelinedScript(url, ECHO, timeout_s=2.0)
    try:
        await pipe.run(["in-db-3"], ["x"])
    finally:
        await pipe.close()
    assert redis.Redis.from_url(url).get("in-db-3") == b"1"
    assert redis.Redis.from_url(throwaway_redis.url).get("in-db-3") is None


async def test_restarted_redis_fails_pending_calls_then_reconnects(
    throwaway_redis: ThrowawayRedis,
) -> None:
    pipe = PipelinedScript(throwaway_redis.url, ECHO, timeout_s=1.0)
    try:
        await pipe.run(["k"], ["warm"])
        throwaway_redis.stop()
        with pytest.raises((ConnectionError, OSError)):
            await pipe.run(["k"], ["while down"])
        throwaway_redis.start()
        assert (await pipe.run(["k"], ["back"]))[0] == "back"
    finally:
        await pipe.close()


async def _fake_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], object],
) -> tuple[asyncio.Server, str]:
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await handler(reader, writer)  # type: ignore[misc]

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"redis://127.0.0.1:{port}/0"


async def test_silent_server_fails_calls_within_the_timeout() -> None:
    connections = 0

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.read(1 << 16)  # reads the command, never answers
        await asyncio.sleep(10)

    server, url = await _fake_server(silent)
    pipe = PipelinedScript(url, ECHO, timeout_s=0.3)
    try:
        for _ in range(2):
            start = time.monotonic()
            with pytest.raises(ConnectionError, match="did not answer"):
                await pipe.run(["k"], ["x"])
            assert time.monotonic() - start < 1.5
        assert connections == 2  # the stalled connection was dropped and a new one opened
    finally:
        await pipe.close()
        server.close()


async def test_garbage_from_server_is_a_connection_error_not_a_crash() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(1 << 16)
        writer.write(b"?this is not RESP\r\n")
        await writer.drain()
        await asyncio.sleep(1)

    server, url = await _fake_server(garbage)
    pipe = PipelinedScript(url, ECHO, timeout_s=1.0)
    try:
        with pytest.raises(ConnectionError, match="protocol error"):
            await pipe.run(["k"], ["x"])
    finally:
        await pipe.close()
        server.close()


PASSWORD = "s3cret/with:chars"


@pytest.fixture
def password_redis() -> Iterator[int]:
    """A private redis-server that requires ``PASSWORD``; yields its port."""
    server = ThrowawayRedis(password=PASSWORD)
    server.start()
    try:
        yield server.port
    finally:
        server.stop()


async def test_password_from_the_url_is_sent_before_any_script(password_redis: int) -> None:
    authed = f"redis://:{quote(PASSWORD, safe='')}@127.0.0.1:{password_redis}/2"
    pipe = PipelinedScript(authed, ECHO, timeout_s=2.0)
    try:
        assert (await pipe.run(["k"], ["with auth"]))[0] == "with auth"
    finally:
        await pipe.close()
    assert redis.Redis.from_url(authed).get("k") == b"1"  # in db 2
    wrong = PipelinedScript(f"redis://:wrong@127.0.0.1:{password_redis}/0", ECHO, timeout_s=2.0)
    with pytest.raises(ConnectionError, match="setup failed"):
        await wrong.run(["k"], ["x"])
    await wrong.close()
