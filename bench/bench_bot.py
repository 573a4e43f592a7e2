"""Bot turns through the Rasa REST channel: throughput, latency and the Rasa server's memory.

Run: ``.venv/bin/python bench/bench_bot.py [1 8 32]``. Starts the real Rasa server (current
model) and the real action server on free ports with a private data directory (SQLite DNC,
consent and evidence stores), then, at each concurrency, runs that many simulated callers, each
playing marketing calls of five turns: 喂你好 (session start, disclosure, DNC and consent lookups,
consent question) → 你说啥没听清 → 你是哪个公司的 (disclosure restated) → 可以你说吧 (consent
written to SQL + evidence, product script and risk warning) → 收益率是多少 (answered after
consent). Reported per concurrency: turns/s, p50/p99 turn latency (HTTP request to reply, through
the action server) and the Rasa server's RSS (process group). Target at concurrency 8: p50 <= 30 ms,
p99 <= 150 ms. Prints numbers only.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ivr import rasa_model  # noqa: E402
from ivr.db import migrate  # noqa: E402
from ivr.services import (  # noqa: E402
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)
from ivr.settings import Settings  # noqa: E402

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


async def one_call(client: httpx.AsyncClient, latencies: list[float]) -> None:
    call_id = f"bench-{uuid.uuid4().hex}"
    metadata = {
        "call_id": call_id,
        "institution": "测试银行",
        "bot_id": "AI-0001",
        "purpose": "marketing",
        "campaign": "bench",
        "caller": f"135{random.randint(10_000_000, 99_999_999)}",
    }
    for text in TURNS:
        start = time.perf_counter()
        reply = await client.post(
            "/webhooks/rest/webhook",
            json={"sender": call_id, "message": text, "metadata": metadata},
        )
        latencies.append(time.perf_counter() - start)
        reply.raise_for_status()


async def run_level(url: str, concurrency: int, calls_per_worker: int) -> dict[str, float]:
    latencies: list[float] = []
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as client:

        async def worker() -> None:
            for _ in range(calls_per_worker):
                await one_call(client, latencies)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - start
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
        env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
        env |= {"IVR_DATA_DIR": str(data_dir), "IVR_DATABASE_URL": str(settings.database_url)}
        action_port, rasa_port = free_port(), free_port()
        run_dir = Path(tmp) / "run"
        actions = ManagedProcess(
            dataclasses.replace(action_server_spec(action_port), env=env), run_dir
        )
        rasa = ManagedProcess(
            rasa_spec(model.path, rasa_port, runtime_endpoints(action_port, run_dir), 180.0),
            run_dir,
        )
        try:
            actions.wait_ready()
            rasa.wait_ready()
            url = f"http://127.0.0.1:{rasa_port}"
            asyncio.run(run_level(url, 2, 2))  # warm-up: action paths, SQLite, jieba
            print(f"model {model.path.name}; Rasa RSS after warm-up {rss_mb(rasa.proc.pid):.0f} MB")
            print(
                f"target at concurrency 8: p50 <= {TARGET['p50_ms']:.0f} ms, "
                f"p99 <= {TARGET['p99_ms']:.0f} ms"
            )
            print(
                f"{'concurrency':>11} {'turns':>6} {'turns/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
                f"{'Rasa RSS MB':>11}"
            )
            for level in levels:
                result = asyncio.run(run_level(url, level, CALLS_PER_WORKER.get(level, 5)))
                print(
                    f"{level:>11} {result['turns']:>6.0f} {result['turns_s']:>8.1f} "
                    f"{result['p50_ms']:>7.1f} {result['p99_ms']:>7.1f} "
                    f"{rss_mb(rasa.proc.pid):>11.0f}"
                )
        finally:
            rasa.stop()
            actions.stop()


if __name__ == "__main__":
    main()
