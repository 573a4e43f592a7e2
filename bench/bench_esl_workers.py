"""Calls per second and concurrent calls through 1, 2 and 4 ESL worker processes on one port.

Run: ``.venv/bin/python bench/bench_esl_workers.py [--calls 600] [--concurrent 400]``. For each
worker count W the bench starts ``python -m telephony serve --workers W`` (SO_REUSEPORT; the
default handler: answer, a 1 s tone, hang up) and this process plays the FreeSWITCH simulator:

- **calls/s**: ``--calls`` calls, at most 100 at a time, media clock 100x faster than real time
  (the tone takes 10 ms): setup + commands + teardown is what is measured;
- **concurrent**: ``--concurrent`` calls started together in real time (each holds its worker
  for the 1 s tone): completed, timed out, and the wall time beyond the tone.

Baseline: the same numbers with 1 worker. On a 2-core machine the simulator shares the cores
with the workers, so more workers than cores cannot help; the point is that N workers serve one
port without losing calls, and how the rate moves with N where cores allow.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shell.services import free_port  # noqa: E402
from telephony.simulator import CallerScript, SimulatedCall  # noqa: E402


async def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.1)


async def calls_per_second(port: int, total: int) -> tuple[float, int]:
    gate = asyncio.Semaphore(100)
    failed = 0

    async def one() -> None:
        nonlocal failed
        async with gate:
            result = await SimulatedCall(CallerScript(), time_scale=0.01).run(
                "127.0.0.1", port, deadline_s=60
            )
            failed += bool(result.timed_out)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(total)))
    return total / (time.perf_counter() - start), failed


async def concurrent(port: int, n: int) -> tuple[int, int, float]:
    start = time.perf_counter()
    results = await asyncio.gather(
        *(
            SimulatedCall(CallerScript(), time_scale=1.0).run("127.0.0.1", port, deadline_s=60)
            for _ in range(n)
        )
    )
    wall = time.perf_counter() - start
    timed_out = sum(bool(r.timed_out) for r in results)
    return n - timed_out, timed_out, wall - 1.0


def run(workers: int, calls: int, n_concurrent: int) -> str:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "telephony",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "WARNING",
            "--drain-s",
            "5",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        asyncio.run(wait_port(port))
        time.sleep(0.5 * workers)  # every worker bound before the load starts
        rate, failed = asyncio.run(calls_per_second(port, calls))
        done, timed_out, extra = asyncio.run(concurrent(port, n_concurrent))
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
    return (
        f"{workers:>7} | {rate:>8.0f} {failed:>6} | {done:>9} {timed_out:>9} {extra * 1000:>10.0f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=600)
    parser.add_argument("--concurrent", type=int, default=400)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2, 4])
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    print(
        f"{'workers':>7} | {'calls/s':>8} {'lost':>6} | {'concurrent':>9} {'timed out':>9} "
        f"{'+wall ms':>10}"
    )
    for workers in args.workers:
        print(run(workers, args.calls, args.concurrent), flush=True)


if __name__ == "__main__":
    main()
