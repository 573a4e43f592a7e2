"""Helpers of the telephony tests: an in-memory evidence sink, test server settings."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field

from ivr.evidence import EvidenceKind
from telephony.server import OutboundServer, ServerConfig

TEST_CONFIG = ServerConfig(reply_timeout_s=1.0, write_timeout_s=1.0, finish_timeout_s=2.0)


@dataclass
class MemoryEvidence:
    """An EvidenceSink that keeps entries in a list."""

    entries: list[tuple[EvidenceKind, str | None, dict[str, object]]] = field(default_factory=list)

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        self.entries.append((kind, call_id, dict(payload)))


@dataclass
class RunningServer:
    server: OutboundServer
    evidence: MemoryEvidence
    host: str
    port: int


ServerFactory = Callable[..., "AsyncIterator[RunningServer]"]


async def eventually(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    """Wait (polling, bounded) until ``condition()`` holds; fail if it never does."""
    import asyncio

    for _ in range(int(timeout_s / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    assert condition()
