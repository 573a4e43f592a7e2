"""The dialler process's status endpoint (issue 18 item 7): ``/healthz`` JSON for ``make run``,
``/metrics`` for Prometheus with the dialler's own figures; anything else is a 404."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from campaigns.app import DiallerCollector, StatusServer
from campaigns.dialler_config import DiallerStats


@dataclass
class FakeDialler:
    stats: DiallerStats = field(default_factory=DiallerStats)
    live: int = 0

    def inflight(self) -> int:
        return self.live


async def get(port: int, path: str) -> tuple[str, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    data = await reader.read()
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode().splitlines()[0], body


async def test_health_and_metrics_follow_the_dialler() -> None:
    dialler = FakeDialler()
    registry = CollectorRegistry()
    registry.register(DiallerCollector(dialler))  # type: ignore[arg-type]
    server = await asyncio.start_server(
        StatusServer(dialler, registry).handle,  # type: ignore[arg-type]
        "127.0.0.1",
        0,
    )
    port = server.sockets[0].getsockname()[1]
    try:
        dialler.stats.claimed, dialler.stats.originated, dialler.live = 7, 5, 2
        status, body = await get(port, "/healthz")
        assert status.endswith("200 OK") and json.loads(body)["originated"] == 5
        status, body = await get(port, "/metrics")
        assert status.endswith("200 OK")
        samples = {
            s.name: s.value
            for family in text_string_to_metric_families(body.decode())
            for s in family.samples
        }
        assert samples["ivr_dialler_originated_total"] == 5
        assert samples["ivr_dialler_claimed_total"] == 7
        assert samples["ivr_dialler_inflight"] == 2
        dialler.stats.originated = 6
        _, body = await get(port, "/metrics")
        assert "ivr_dialler_originated_total 6.0" in body.decode()
        status, _ = await get(port, "/nothing")
        assert status.endswith("404 Not Found")
    finally:
        server.close()
        await server.wait_closed()
