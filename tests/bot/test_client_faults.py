"""The Rasa client never leaves a call hanging: down or slow Rasa raises a clear error fast."""

from __future__ import annotations

import asyncio

import pytest

from bot.client import RasaClient
from ivr.errors import DependencyUnavailableError, RemoteProtocolError
from shell.services import free_port


async def test_rasa_down_is_dependency_unavailable() -> None:
    port = free_port()
    async with RasaClient(f"http://127.0.0.1:{port}", timeout_s=0.5) as client:
        with pytest.raises(DependencyUnavailableError, match="refused"):
            await client.send("call-1", "你好")


async def test_rasa_slower_than_limit_is_dependency_unavailable() -> None:
    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        await asyncio.sleep(30)

    server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with RasaClient(f"http://127.0.0.1:{port}", timeout_s=0.3) as client:
            with pytest.raises(DependencyUnavailableError, match=r"within 0\.3 s"):
                await client.send("call-1", "你好")
    finally:
        server.close()


async def _serve_once(status: str, body: bytes) -> tuple[asyncio.Server, int]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(65536)
        writer.write(
            f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def test_server_error_is_dependency_unavailable() -> None:
    server, port = await _serve_once("500 Internal Server Error", b"{}")
    try:
        async with RasaClient(f"http://127.0.0.1:{port}", timeout_s=2) as client:
            with pytest.raises(DependencyUnavailableError, match="HTTP 500"):
                await client.send("call-1", "你好")
    finally:
        server.close()


async def test_malformed_reply_is_remote_protocol_error() -> None:
    server, port = await _serve_once("200 OK", b'{"not": "a list"}')
    try:
        async with RasaClient(f"http://127.0.0.1:{port}", timeout_s=2) as client:
            with pytest.raises(RemoteProtocolError):
                await client.send("call-1", "你好")
    finally:
        server.close()
