"""Bot turns through the Rasa REST channel: throughput, latency and the Rasa servers' memory.

Run: ``.venv/bin/python bench/bench_bot.py [1 8 32]``. Starts the real action server and two
real Rasa servers (current model, ``bot/rasa_launch.py``) on free ports with a private data
directory (SQLite DNC, consent and evidence stores). At each concurrency, that many simulated
callers each play marketing calls of five turns: 喂你好 (session start, disclosure, DNC and
consent lookups, consent question) → 你说啥没听清 → 你是哪个公司的 (disclosure restated) →
可以你说吧 (consent written to SQL + evidence, product script and risk warning) → 收益率是多少
(answered after consent).

Rows: with one Rasa server and with two (``IVR_RASA_PROCESSES=2``: each call pinned to one server
by :func:`bot.client.shard_for`, as the app's client does). The load generator is a minimal
keep-alive HTTP/1.1 client (~0.1 ms of CPU per turn) so that, on these 2 shared cores, it takes
as little as possible from the servers; one more row uses the app's own ``RasaClient`` (aiohttp,
parses the directives too) at concurrency 8. Reported: turns/s, p50/p99 turn latency (request to
reply, through the action server) and the Rasa servers' RSS. Target at concurrency 8: p50 <=
30 ms, p99 <= 150 ms. Prints numbers only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.caller_handles import CallerHandles  # noqa: E402
from bot.client import CallMetadata, RasaClient, shard_for  # noqa: E402
from ivr.db import make_engine, migrate  # noqa: E402
from ivr.phone import customer_number  # noqa: E402
from ivr.settings import Settings  # noqa: E402
from records.sealed_number import NumberSealer  # noqa: E402
from shell import rasa_model  # noqa: E402
from shell.services import (  # noqa: E402
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)

TURNS = ("喂你好", "你说啥没听清", "你是哪个公司的", "可以你说吧", "收益率是多少")
CALLS_PER_WORKER = {1: 40, 8: 12, 32: 5}
TARGET = {"p50_ms": 30.0, "p99_ms": 150.0}


def rss_mb(pid: int) -> float:
    """RSS of a process and its descendants, from /proc."""
    total_kb = 0
    pids = [pid]
    seen: set[int] = set()
    while pids:
        current = pids.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            pids.extend(int(c) for c in children)
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total_kb / 1024


class LeanClient:
    """Keep-alive HTTP/1.1 POSTs of JSON over asyncio streams: the lightest load generator."""

    def __init__(self, url: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._host, self._port = host, int(port)
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []

    async def post(self, path: str, payload: dict[str, object]) -> bytes:
        body = json.dumps(payload).encode()
        if self._idle:
            reader, writer = self._idle.pop()
        else:
            reader, writer = await asyncio.open_connection(self._host, self._port)
        writer.write(
            b"POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n%s" % (path.encode(), self._host.encode(), len(body), body)
        )
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        data = await reader.readexactly(length)
        if status != 200:
            raise RuntimeError(f"Rasa answered HTTP {status}")
        self._idle.append((reader, writer))
        return data

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()


def call_metadata(call_id: str, caller_handle: str) -> dict[str, str]:
    return {
        "call_id": call_id,
        "institution": "测试银行",
        "bot_id": "AI-0001",
        "purpose": "marketing",
        "campaign": "bench",
        "caller_handle": caller_handle,
    }


async def run_level(
    urls: list[str],
    handles: CallerHandles,
    concurrency: int,
    calls_per_worker: int,
    app_client: bool = False,
) -> dict[str, float]:
    latencies: list[float] = []
    lean = [LeanClient(url) for url in urls]
    rasa_client = RasaClient(urls, timeout_s=30) if app_client else None

    async def one_call() -> None:
        call_id = f"bench-{uuid.uuid4().hex}"
        # what the app does once per conversation (not timed): the customer as a caller handle
        number = customer_number(f"135{random.randint(10_000_000, 99_999_999)}")
        handle = await handles.issue(call_id, number)
        assert handle is not None
        metadata = call_metadata(call_id, handle)
        app_metadata = CallMetadata(
            call_id,
            metadata["institution"],
            metadata["bot_id"],
            purpose=metadata["purpose"],
            campaign=metadata["campaign"],
            caller_handle=handle,
        )
        server = lean[shard_for(call_id, len(urls))]
        for text in TURNS:
            start = time.perf_counter()
            if rasa_client is not None:
                await rasa_client.send(call_id, text, app_metadata)
            else:
                await server.post(
                    "/webhooks/rest/webhook",
                    {"sender": call_id, "message": text, "metadata": metadata},
                )
            latencies.append(time.perf_counter() - start)

    async def worker() -> None:
        for _ in range(calls_per_worker):
            await one_call()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall = time.perf_counter() - start
    for client in lean:
        await client.aclose()
    if rasa_client is not None:
        await rasa_client.aclose()
    ordered = sorted(latencies)
    return {
        "turns": len(ordered),
        "turns_s": len(ordered) / wall,
        "p50_ms": statistics.median(ordered) * 1000,
        "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000,
    }


def main() -> None:
    levels = [int(a) for a in sys.argv[1:]] or [1, 8, 32]
    model = rasa_model.ensure_model()
    with tempfile.TemporaryDirectory(prefix="bench-bot-") as tmp:
        data_dir = Path(tmp) / "data"
        settings = Settings(data_dir=data_dir, database_url=f"sqlite:///{data_dir / 'ivr.db'}")
        migrate(settings.sqlalchemy_url)
        settings.key_bytes("blind_index")
        handles = CallerHandles(
            make_engine(settings.sqlalchemy_url),
            NumberSealer.from_settings(settings),
            ttl_s=settings.esl_max_call_s,
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        env |= {"IVR_DATA_DIR": str(data_dir), "IVR_DATABASE_URL": str(settings.database_url)}
        action_port = free_port()
        run_dir = Path(tmp) / "run"
        endpoints = runtime_endpoints(action_port, run_dir)
        actions = ManagedProcess(action_server_spec(action_port, env=env), run_dir)
        servers = []
        for i in range(2):
            port = free_port()
            spec = rasa_spec(model.path, port, endpoints, 180.0)
            servers.append(
                (port, ManagedProcess(dataclasses.replace(spec, name=f"rasa{i}"), run_dir))
            )
        try:
            actions.wait_ready()
            for _, server in servers:
                server.wait_ready()
            urls = [f"http://127.0.0.1:{port}" for port, _ in servers]
            asyncio.run(run_level(urls, handles, 2, 2))  # warm-up: action paths, SQLite, jieba
            pids = [server.proc.pid for _, server in servers]
            print(f"model {model.path.name}; Rasa RSS after warm-up {rss_mb(pids[0]):.0f} MB each")
            print(
                f"target at concurrency 8: p50 <= {TARGET['p50_ms']:.0f} ms, "
                f"p99 <= {TARGET['p99_ms']:.0f} ms"
            )
            print(
                f"{'servers':>7} {'client':>10} {'concurrency':>11} {'turns':>6} {'turns/s':>8} "
                f"{'p50 ms':>7} {'p99 ms':>7} {'Rasa RSS MB':>11}"
            )
            rows = [(1, level, False) for level in levels]
            rows += [(2, level, False) for level in levels] + [(2, 8, True)]
            for n_servers, level, app_client in rows:
                result = asyncio.run(
                    run_level(
                        urls[:n_servers],
                        handles,
                        level,
                        CALLS_PER_WORKER.get(level, 5),
                        app_client,
                    )
                )
                memory = sum(rss_mb(pid) for pid in pids[:n_servers])
                print(
                    f"{n_servers:>7} {'RasaClient' if app_client else 'lean':>10} {level:>11} "
                    f"{result['turns']:>6.0f} {result['turns_s']:>8.1f} "
                    f"{result['p50_ms']:>7.1f} {result['p99_ms']:>7.1f} {memory:>11.0f}"
                )
        finally:
            for _, server in servers:
                server.stop()
            actions.stop()


if __name__ == "__main__":
    main()
