"""``ivr campaign demo``: a whole campaign against the FreeSWITCH simulator, in a sandbox.

A private data directory (SQLite, generated keys, a copy of nothing else) holds a campaign of
``n`` numbers on the shipped ``outbound_marketing`` flow. The simulated switch answers, rings
out, is busy or declines (603) by probability; answered callees behave per number (consent by
DTMF 1, refuse by DTMF 2, hang up during the first prompt, stay silent). Answered legs run the
shipped dialplan's ``ivr_outbound`` into the real flow orchestrator (real gate, DNC, consent and
evidence stores; DTMF only, so no Rasa server is needed), and the real dialler runs the
campaign to its end. The summary counts the dispositions and audits the switch's own originate
log independently (numbers dialled twice at once, more than the daily cap, a refused number
dialled again: all must be 0).

The sandbox runs on a :class:`DaytimeClock` (real time running on from 10:00 Shanghai of
today), whatever the hour it is started at: the real gate still checks the rules' calling
windows, at that simulated instant (a demo started at 23:00 Shanghai would otherwise only show
every attempt waiting for 08:00).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from datetime import time as dt_time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from campaigns.importer import ListImporter
from campaigns.model import CampaignState, DailyWindow, Disposition, RetryPolicy, RetryRule
from campaigns.pacing import LocalPacer
from campaigns.repository import CampaignRepository
from campaigns.spec import CampaignSpec
from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.orchestrator import CallOrchestrator
from ivr.db import make_engine
from ivr.phone import normalize
from ivr.settings import Settings
from records.sealed_number import NumberSealer
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, Dialplan, InboundSwitch, Turn
from telephony.simulator.dialing import DialOutcome, OriginateRecord, OutcomeMix

BEHAVIOURS = ("consent", "refuse", "hangup", "silent")
SHANGHAI = ZoneInfo("Asia/Shanghai")


class DaytimeClock:
    """Real time running on from ``start`` (default: 10:00 Shanghai of today)."""

    def __init__(self, start: datetime | None = None) -> None:
        if start is None:
            today = datetime.now(SHANGHAI).date()
            start = datetime.combine(today, dt_time(10, 0), tzinfo=SHANGHAI).astimezone(UTC)
        self.start, self._t0 = start, time.monotonic()

    def __call__(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self._t0)


@dataclass(frozen=True, slots=True)
class DemoResult:
    numbers: int
    wall_s: float
    originates: int
    dispositions: dict[str, int]
    violations: list[str]

    def as_dict(self) -> dict[str, object]:
        return {
            "numbers": self.numbers,
            "wall_s": round(self.wall_s, 2),
            "originates": self.originates,
            "calls_per_s": round(self.originates / self.wall_s, 2) if self.wall_s else None,
            "dispositions": self.dispositions,
            "violations": self.violations,
        }


def demo_numbers(n: int, rng: random.Random) -> list[str]:
    return [f"139{rng.randrange(10**8):08d}" for _ in range(n)]


def caller(behaviour: str) -> CallerScript:
    if behaviour == "consent":
        return CallerScript(turns=(Turn.press("1"),))
    if behaviour == "refuse":
        return CallerScript(turns=(Turn.press("2"),))
    if behaviour == "hangup":
        return CallerScript(hangup_during="playback")
    return CallerScript(turns=(Turn.silent(), Turn.silent(), Turn.silent()))


def audit(log: list[OriginateRecord], refused: set[str], cap: int = 3) -> list[str]:
    """Violations found in the switch's own log (see the module docstring)."""
    problems: list[str] = []
    spans: dict[str, list[OriginateRecord]] = {}
    for rec in log:
        number = normalize(rec.variables.get("ivr_customer_number", "0") or "0")
        spans.setdefault(number, []).append(rec)
    for number, recs in spans.items():
        if len(recs) > cap:
            problems.append(f"{number[-4:]}: {len(recs)} originates (cap {cap})")
        recs.sort(key=lambda r: r.received_at)
        for a, b in itertools.pairwise(recs):
            if a.ended_at is None or b.received_at < a.ended_at:
                problems.append(f"{number[-4:]}: two legs at once")
            if number in refused and a.outcome == "answered":
                problems.append(f"{number[-4:]}: dialled again after a refusal")
    return problems


async def run_demo(n: int = 200, *, seed: int = 14, keep: Path | None = None) -> DemoResult:
    """The demo (see the module docstring); ``keep``: use this data dir and leave it."""
    from campaigns.app import build_dialler

    rng = random.Random(seed)
    data_dir = keep or Path(tempfile.mkdtemp(prefix="ivr-demo-"))
    settings = Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'demo.db'}",
        redis_url=None,
        env="development",
        dialler_originate_timeout_s=20,
        gate_timeout_ms=1000,
    )
    numbers = demo_numbers(n, rng)
    behaviour = {num: rng.choice(BEHAVIOURS) for num in numbers}
    mix = OutcomeMix(
        busy=0.1,
        no_answer=0.1,
        reject=0.05,
        fail=0.02,
        ring_s=(0.0, 0.05),
        seed=seed,
    )
    scripts = {num: caller(b) for num, b in behaviour.items()}

    def fate(request: Any, destination: str) -> DialOutcome:
        """The mix decides whether the leg answers; an answered callee acts per number."""
        drawn = mix(request, destination)
        if drawn.cause is None:
            return DialOutcome(None, drawn.ring_s, scripts.get(destination))
        return drawn

    clock = DaytimeClock()
    built = await build_deps(settings, listener=SidecarListener(None), warm=True, clock=clock)
    clock_start = clock()
    server = OutboundServer(
        CallOrchestrator(built.deps), built.deps.evidence, ServerConfig(reply_timeout_s=10)
    )
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port),
        dialplan=Dialplan.shipped({"recordings_dir": str(data_dir / "fs")}),
        behaviour=fate,
        time_scale=0.001,
    )
    shost, sport = await switch.start()
    esl = InboundClient(shost, sport, "ClueCon")
    engine = make_engine(settings.sqlalchemy_url)
    dialler = build_dialler(
        settings, engine=engine, gate=built.compliance, esl=esl, pacer=LocalPacer(), clock=clock
    )
    started = time.monotonic()
    try:
        await esl.connect()
        repo = CampaignRepository(engine)
        spec = CampaignSpec(
            name=f"demo-{clock_start:%H%M%S}",
            flow_id="outbound_marketing",
            purpose="marketing",
            caller_ids=("95588", "95566"),
            windows=(DailyWindow(0, 1440),),
            max_attempts=3,
            retry=RetryPolicy(
                {
                    Disposition.BUSY: RetryRule(1, 2),
                    Disposition.NO_ANSWER: RetryRule(1, 2),
                    Disposition.FAILED: RetryRule(1, 1),
                }
            ),
            max_concurrency=50,
            max_cps=100.0,
        )
        camp = repo.create(spec, actor="demo", now=clock_start)
        path = data_dir / "list.csv"
        path.write_text("number\n" + "\n".join(numbers) + "\n", encoding="utf-8")
        importer = ListImporter(engine, NumberSealer.from_settings(settings))
        importer.import_file(camp, path, placeholders=set(), now=clock_start - timedelta(seconds=1))
        repo.apply(camp.id, "start", now=clock())
        task = asyncio.create_task(dialler.run())
        deadline = time.monotonic() + 600
        while repo.get(camp.id).state is not CampaignState.FINISHED:
            if time.monotonic() > deadline or task.done():
                break
            await asyncio.sleep(0.2)
        dialler.stop()
        await task
        wall = time.monotonic() - started
        counts = dialler.queue.counts(camp.id)
        dispositions = {
            k.split(":", 1)[1]: v for k, v in counts.items() if k.startswith("disposition:")
        }
        refused = {normalize(num) for num, b in behaviour.items() if b == "refuse"}
        return DemoResult(
            n, wall, len(switch.originate_log), dict(Counter(dispositions)),
            audit(switch.originate_log, refused),
        )  # fmt: skip
    finally:
        await esl.close()
        if dialler.agent_pacing is not None:
            await dialler.agent_pacing.close()
        await switch.close()
        await server.close(grace_s=2.0)
        await built.aclose()
        engine.dispose()
        if keep is None:
            shutil.rmtree(data_dir, ignore_errors=True)
