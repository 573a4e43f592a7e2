"""Concurrent calls through one outbound ESL server process, driven by the FreeSWITCH simulator.

Run: ``.venv/bin/python bench/bench_calls.py [100 1000]``. The server runs in its own process
with an instrumented handler: ours (``telephony.server``), and beside it the same call flow on
genesis (asyncio, ``genesis.Outbound``) and on greenswitch (gevent,
``greenswitch.OutboundESLServer``) when they are installed (``make bench``). This process plays
the same N simulated callers to each, arriving over 2 s per 1,000 and then all connected
together, each running answer → play (3 s prompt, real time) → play_and_get_digits (3 digits,
150 ms apart) → hangup. Reported: p50/p99 of the command round trip measured in the server
(command written → its reply parsed; it includes the simulator's own time to answer, on the
same 2 cores), events lost (events the simulator sent minus events the server received),
server memory per call (peak RSS growth / N) and the wall time. Target for ours: 1,000 calls with
p99 < 50 ms on 2 cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
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


PROMPT = "tone_stream://%(3000,0,440)"
SERVERS = ("ours", "genesis", "greenswitch")


async def flow(session: CallSession) -> None:
    try:
        await session.answer()
        await session.play(PROMPT)
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


def report(out_file: Path, base: int, peak: int, completed: int) -> None:
    out_file.write_text(
        json.dumps(
            {
                "latencies": LATENCIES,
                "events": EVENTS,
                "base_kb": base,
                "peak_kb": peak,
                "cpu_s": sum(resource.getrusage(resource.RUSAGE_SELF)[:2]),
                "completed": completed,
            }
        )
    )


async def serve_until_term(port: int, port_file: Path) -> tuple[int, int]:
    """Publish ``port``, sample RSS until SIGTERM; (base, peak) in KiB."""
    base = peak = rss_kb()
    port_file.write_text(str(port))  # noqa: ASYNC240 - once, before serving
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    while not stop.is_set():
        peak = max(peak, rss_kb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)
    return base, peak


async def ours_main(port_file: Path, out_file: Path) -> None:
    instrument()
    server = OutboundServer(flow, None, ServerConfig(reply_timeout_s=30, finish_timeout_s=10))
    _, port = await server.start("127.0.0.1", 0)
    base, peak = await serve_until_term(port, port_file)
    await server.close()
    report(out_file, base, peak, server.stats.completed)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def genesis_main(port_file: Path, out_file: Path) -> None:
    from genesis import Outbound  # type: ignore[import-untyped]
    from genesis.protocol.base import Protocol  # type: ignore[import-untyped]

    send, process = Protocol.send, Protocol._process_one_event

    async def timed(self, cmd):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        reply = await send(self, cmd)
        LATENCIES.append(time.perf_counter() - start)
        return reply

    async def counted(self, event):  # type: ignore[no-untyped-def]
        uuid, name = event.get("Unique-ID"), event.get("Event-Name")
        if isinstance(uuid, str) and name and name != "CHANNEL_DATA":
            EVENTS[uuid] = EVENTS.get(uuid, 0) + 1
        await process(self, event)

    Protocol.send, Protocol._process_one_event = timed, counted
    completed = 0

    async def genesis_flow(session) -> None:  # type: ignore[no-untyped-def]
        nonlocal completed
        channel = session.channel
        await channel.answer()
        await channel.playback(PROMPT)
        await channel.play_and_get_digits(
            tries=1,
            timeout=5000,
            terminators="#",
            file="silence_stream://100",
            minimal=1,
            maximum=3,
            regexp="\\d+",
            var_name="pagd_digits",
            invalid_file="silence_stream://250",
        )
        await channel.hangup()
        completed += 1

    port = free_port()
    server = Outbound(genesis_flow, "127.0.0.1", port, events=True, linger=True)
    await server.start(block=False)
    base, peak = await serve_until_term(port, port_file)
    await server.stop()
    report(out_file, base, peak, completed)


def greenswitch_main(port_file: Path, out_file: Path) -> None:
    from gevent import monkey  # type: ignore[import-untyped]

    monkey.patch_all()
    import gevent  # type: ignore[import-untyped]
    from greenswitch import esl  # type: ignore[import-untyped]

    send, handle = esl.ESLProtocol.send, esl.ESLProtocol.handle_event

    def timed(self, data):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        reply = send(self, data)
        LATENCIES.append(time.perf_counter() - start)
        return reply

    def counted(self, event):  # type: ignore[no-untyped-def]
        handle(self, event)  # reads and parses the event's body
        uuid, name = event.headers.get("Unique-ID"), event.headers.get("Event-Name")
        if uuid and name and name != "CHANNEL_DATA":
            EVENTS[uuid] = EVENTS.get(uuid, 0) + 1

    esl.ESLProtocol.send, esl.ESLProtocol.handle_event = timed, counted
    done = [0]

    class App:
        def __init__(self, session) -> None:  # type: ignore[no-untyped-def]
            self.session = session

        def run(self) -> None:
            s = self.session
            s.myevents()
            s.linger()
            s.answer()
            s.playback(PROMPT, block=True)
            s.play_and_get_digits(
                1,
                3,
                1,
                5000,
                "#",
                "silence_stream://100",
                "silence_stream://250",
                "pagd_digits",
                "\\d+",
                block=True,
                response_timeout=30,
            )
            s.hangup()
            done[0] += 1

    port = free_port()
    server = esl.OutboundESLServer("127.0.0.1", port, App, max_connections=100_000)
    gevent.spawn(server.listen)
    base = peak = rss_kb()
    port_file.write_text(str(port))
    stop = gevent.event.Event()
    gevent.signal_handler(signal.SIGTERM, stop.set)
    while not stop.wait(0.05):
        peak = max(peak, rss_kb())
    server.stop()
    report(out_file, base, peak, done[0])


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


def run(n: int, impl: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        port_file, out_file = Path(tmp) / "port", Path(tmp) / "out.json"
        proc = subprocess.Popen(
            [sys.executable, __file__, "--server", impl, str(port_file), str(out_file)],
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        try:
            while not port_file.exists() or not port_file.read_text():
                if proc.poll() is not None:
                    print(f"{impl:>11}: not installed or failed to start (make bench installs it)")
                    return
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
    ok = sum(1 for r in results if r.hangup_by == "ivr" and not r.timed_out)  # type: ignore[attr-defined]
    per_call = (stats["peak_kb"] - stats["base_kb"]) / n
    print(
        f"{impl:>11} {n:>5} calls: {ok}/{n} completed in {wall:5.1f} s | commands {len(lat)} "
        f"p50 {p50:6.2f} ms p99 {p99:6.2f} ms | events lost {lost} "
        f"of {sum(sent.values())} | server memory {per_call:5.1f} KiB/call "
        f"(RSS {stats['base_kb'] // 1024} → {stats['peak_kb'] // 1024} MiB) | "
        f"CPU: server {stats['cpu_s']:.1f} s, simulator {sim_cpu:.1f} s"
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--server":
        impl, port_file, out_file = sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
        if impl == "greenswitch":
            greenswitch_main(port_file, out_file)
        else:
            server = ours_main if impl == "ours" else genesis_main
            asyncio.run(server(port_file, out_file))
        return
    for n in [int(a) for a in sys.argv[1:]] or [100, 1000]:
        for impl in SERVERS:
            run(n, impl)


if __name__ == "__main__":
    main()
