"""Helpers of the telephony tests: the running test server, test server settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from helpers.evidence import MemorySink

from telephony.server import OutboundServer, ServerConfig

TEST_CONFIG = ServerConfig(reply_timeout_s=1.0, write_timeout_s=1.0, finish_timeout_s=2.0)


@dataclass
class RunningServer:
    server: OutboundServer
    evidence: MemorySink
    host: str
    port: int


ServerFactory = Callable[..., "AsyncIterator[RunningServer]"]
