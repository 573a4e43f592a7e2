"""A dialler in its own process, for the crash and scale tests (``python dialler_proc.py``).

Arguments: database URL, simulated switch port, Redis prefix (``-``: in-process pacing and the
SQL gate store), the shared clock's anchor (``time.time()`` at SH_NOON), worker id, lease
seconds. Prints ``ready`` once its ESL connection is up; runs until SIGTERM (or SIGKILL).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))  # tests/: the shared helpers

from camp_support import REDIS_URL, SH_NOON, build_env

from campaigns.dialler import Dialler, DiallerConfig
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher
from campaigns.pacing import LocalPacer, Pacer, RedisPacer
from telephony.inbound import InboundClient


class RunningClock:
    def __init__(self, anchor: float) -> None:
        self.anchor = anchor

    def __call__(self):
        return SH_NOON + timedelta(seconds=time.time() - self.anchor)


async def main(url: str, port: int, prefix: str, anchor: float, worker: str, lease: float) -> None:
    clock = RunningClock(anchor)
    env = build_env(url, clock, redis_prefix=None if prefix == "-" else f"{prefix}:gate")  # type: ignore[arg-type]
    await env.svc.start(watch=False)
    pacer: Pacer = LocalPacer() if prefix == "-" else RedisPacer(REDIS_URL, prefix)
    client = InboundClient("127.0.0.1", port, "ClueCon", backoff_s=(0.05, 0.5))
    hangups = HangupWatcher()
    hangups.follow(client)
    await client.connect()
    dialler = Dialler(
        campaigns=env.repo, queue=env.queue, gate=env.svc, esl=client,
        esl_ready=lambda: client.ready, hangups=hangups, outcomes=EvidenceOutcomes(env.engine),
        pacer=pacer, sealer=env.sealer, config=DiallerConfig(worker_id=worker, lease_s=lease),
        clock=clock,
    )  # fmt: skip
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, dialler.stop)
    print("ready", flush=True)
    await dialler.run()
    await client.close()
    await pacer.close()
    await env.close()


if __name__ == "__main__":
    u, p, pre, a, w, lease = sys.argv[1:7]
    asyncio.run(main(u, int(p), pre, float(a), w, float(lease)))
