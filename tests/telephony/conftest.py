"""Fixtures of the telephony tests: a server on a free port."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from helpers.evidence import MemorySink
from tel_support import TEST_CONFIG, RunningServer

from telephony.handler import CallHandler
from telephony.server import OutboundServer, ServerConfig


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., object]]:
    servers: list[OutboundServer] = []

    async def start(
        handler: CallHandler | None = None, config: ServerConfig = TEST_CONFIG
    ) -> RunningServer:
        evidence = MemorySink()
        server = OutboundServer(handler, evidence, config)
        host, port = await server.start("127.0.0.1", 0)
        servers.append(server)
        return RunningServer(server, evidence, host, port)

    yield start
    for server in servers:
        await server.close(grace_s=2.0)
