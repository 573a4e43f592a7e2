"""Concurrent calls through one outbound ESL server process, driven by the FreeSWITCH simulator.

Run: ``.venv/bin/python bench/bench_calls.py [100 1000]``. The server runs in its own process
with an instrumented handler; this process plays N simulated callers arriving over 2 s per
1,000 and then all connected together, each running answer → play (3 s prompt, real time) →
play_and_get_digits (3 digits, 150 ms apart) → hangup. Reported: p50/p99 of the command round
trip measured by the server (command written → its reply parsed; it includes the simulator's
own time to answer, on the same 2 cores), events lost (events the simulator sent minus events
the server's sessions received), server memory per call (peak RSS growth / N) and the wall
time. Target: 1,000 calls with p99 < 50 ms on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from telephony.connection import EslConnection  # noqa: E402
from telephony.server import OutboundServer, ServerConfig  # noqa: E402
from telephony.session import CallSession  # noqa: E402

RAMP_S = 2.0  # per 1,000 calls
LATENCIES: list[float] = []
EVENTS: dict[str, int] = {}


def instrument() -> None:
    original = EslConnection.send

    async def timed(self, command, *, timeout_s=None):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        reply = await original(self, command, timeout_s=timeout_s)
        LATENCIES.append(time.perf_counter() - start)
        return reply

    EslConnection.send = timed  # type: ignore[method-assign]


async def flow(session: CallSession) -> None:
    try:
        await session.answer()
        await session.play("tone_stream://%(3000,0,440)")
        await session.play_and_get_digits("silence_stream://100", max_digits=3, timeout_ms=5000)
        await session.hangup()
        await session.wait_finished(5.0)
    finally:
        EVENTS[session.uuid] = session.events_seen


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def server_main(port_file: Path, out_file: Path) -> None:
    instrument()
    server = OutboundServer(flow, None, ServerConfig(reply_timeout_s=30, finish_timeout_s=10))
    _, port = await server.start("127.0.0.1", 0)
    base = rss_kb()
    port_file.write_text(str(port))  # noqa: ASYNC240 - once, before serving
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    peak = base
    while not stop.is_set():
        peak = max(peak, rss_kb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)
    await server.close()
    out_file.write_text(  # noqa: ASYNC240 - once, after serving
        json.dumps(
            {
                "latencies": LATENCIES,
                "events": EVENTS,
                "base_kb": base,
                "peak_kb": peak,
                "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "completed": server.stats.completed,
                "aborted": server.stats.aborted,
            }
        )
    )


async def drive(port: int, n: int) -> tuple[list[object], float]:
    from telephony.simulator import CallerScript, SimulatedCall

    script = CallerScript(digits="123", digit_interval_ms=150)
    calls = [SimulatedCall(script, time_scale=1.0) for _ in range(n)]
    ramp_s = RAMP_S * n / 1000

    async def one(i: int, call: SimulatedCall) -> object:
        await asyncio.sleep(ramp_s * i / n)  # arrivals spread over the ramp, then all overlap
        return await call.run("127.0.0.1", port, deadline_s=120)

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i, c) for i, c in enumerate(calls)))
    return list(results), time.perf_counter() - start


def run(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port_file, out_file = Path(tmp) / "port", Path(tmp) / "out.json"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--server", str(port_file), str(out_file)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            cpu0 = sum(resource.getrusage(resource.RUSAGE_SELF)[:2])
            results, wall = asyncio.run(drive(int(port_file.read_text()), n))
            sim_cpu = sum(resource.getrusage(resource.RUSAGE_SELF)[:2]) - cpu0
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        stats = json.loads(out_file.read_text())
    lat = sorted(stats["latencies"])
    p50 = statistics.median(lat) * 1000
    p99 = lat[int(len(lat) * 0.99) - 1] * 1000
    sent = {r.uuid: len(r.events) for r in results}  # type: ignore[attr-defined]
    lost = sum(max(sent[u] - stats["events"].get(u, 0), 0) for u in sent)
    ok = sum(1 for r in results if r.got_exit and r.hangup_by == "ivr")  # type: ignore[attr-defined]
    per_call = (stats["peak_kb"] - stats["base_kb"]) / n
    print(
        f"{n:>5} calls: {ok}/{n} completed in {wall:5.1f} s | commands {len(lat)} "
        f"p50 {p50:6.2f} ms p99 {p99:6.2f} ms (target < 50) | events lost {lost} "
        f"of {sum(sent.values())} | server memory {per_call:5.1f} KiB/call "
        f"(RSS {stats['base_kb'] // 1024} → {stats['peak_kb'] // 1024} MiB) | "
        f"CPU: server {stats['cpu_s']:.1f} s, simulator {sim_cpu:.1f} s"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--server":
        asyncio.run(server_main(Path(sys.argv[2]), Path(sys.argv[3])))
        return
    for n in [int(a) for a in sys.argv[1:]] or [100, 1000]:
        run(n)


if __name__ == "__main__":
    main()
