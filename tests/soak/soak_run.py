"""The bounded fault soak (issue 19, item 3): inbound calls through the real orchestrator and a
running outbound campaign on private Redis and PostgreSQL while faults are injected
(:mod:`soak_faults`), then the independent audit (:mod:`soak_audit`) and a summary.

``make soak`` runs :func:`main` (30 minutes, 1,000 concurrent inbound calls by default; see
``--help``); ``tests/soak/test_soak.py`` runs a short version in ``make test``.

One process hosts it all: the orchestrator's ESL server, the simulated switch (inbound callers
and the dialler's outbound legs, routed by the shipped dialplan to ``ivr_outbound``), the
dialler with the Redis gate store and pacer, and the compliance service both share. The bot is
a stub server (default) or the real Rasa + action server (``--bot rasa``), in their own
processes so they can be killed. :mod:`soak_stack` builds it all.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
for _extra in (HERE, HERE.parent, HERE.parent / "campaigns", HERE.parent / "flows"):
    if str(_extra) not in sys.path:
        sys.path.insert(0, str(_extra))

import soak_debug  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from camp_support import cust, fresh_numbers  # noqa: E402
from soak_audit import (  # noqa: E402
    Audit,
    acknowledgements,
    audit_chain_and_ends,
    audit_ledgers,
    audit_originates,
    audit_silence,
    audit_unacknowledged,
)
from soak_calls import REFUSING_INBOUND, InboundLoad, prompt_file  # noqa: E402
from soak_faults import Faults  # noqa: E402
from soak_stack import SoakParams, build_stack  # noqa: E402

from campaigns.model import CampaignState  # noqa: E402
from campaigns.repository import Campaign  # noqa: E402
from campaigns.tables import attempts  # noqa: E402
from ivr.metrics import SPOOL_WRITES  # noqa: E402
from records.evidence_store import SqlEvidenceLog  # noqa: E402
from telephony.simulator.dialing import ANSWERED  # noqa: E402

__all__ = ["SoakParams", "SoakReport", "main", "run_soak"]


@dataclass
class SoakReport:
    params: SoakParams
    counts: Counter[str] = field(default_factory=Counter)
    faults: list[str] = field(default_factory=list)
    fault_errors: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def summary(self) -> str:
        c = self.counts
        lines = [
            f"fault soak: {self.elapsed_s:.0f} s wall, bot={self.params.bot}, "
            f"{self.params.inbound_concurrency} concurrent inbound calls, "
            f"time scale {self.params.time_scale}",
            f"  inbound calls: {c['inbound_calls']} (faulted {c['inbound_dropped']}, "
            f"errors {c['inbound_errors']}, peak in flight {c['inbound_peak']})",
            f"  campaigns: {c['campaigns']}, originates: {c['originates']} "
            f"(answered {c['answered']}), attempts with a disposition: {c['dispositions']}, "
            f"dialler drain {c['dialler_drain_s']} s, most originates to a hot number in a day: "
            f"{c['hot_max_per_day']} (cap 3), legs whose hangup the dialler never saw "
            f"(closed after max_call_s): {c['hangups_missed']}",
            f"  refusals acknowledged: {c['refusals_acknowledged']}, consents acknowledged: "
            f"{c['consents_acknowledged']}, campaign numbers that refused on an inbound call: "
            f"{c['refused_inbound_then_listed']}, evidence entries: {c['evidence_entries']}, "
            f"ended without a prompt: {c['ended_without_a_prompt']}",
            f"  refusals never acknowledged: {c['refusals_unacknowledged']} (not on DNC: "
            f"{c['lost_in_outage_dnc_lost']} in a bot outage, {c['lost_in_fault_refusal']} on a "
            f"dropped connection)",
            f"  outage spool: {c['calls_in_db_outage']} inbound calls overlapped a PostgreSQL "
            f"outage, {c['spooled_writes']} writes spooled "
            f"(evidence, DNC, consent; at most {c['spool_peak']} waiting), empty again "
            f"{c['spool_empty_after_ms']} ms after PostgreSQL was back, "
            f"what was left when "
            f"the calls ended drained in {c['spool_drain_s']} s",
            f"  faults injected ({len(self.faults)}): {', '.join(self.faults)}",
        ]
        if self.fault_errors:
            lines.append(f"  faults that failed to inject: {self.fault_errors}")
        lines.append(f"  violations={len(self.violations)}")
        lines += [f"    {v}" for v in self.violations[:50]]
        return "\n".join(lines)


def _spooled() -> float:
    """Writes spooled in this process so far (the ``ivr_spool_writes_total`` counter)."""
    return sum(
        s.value for m in SPOOL_WRITES.collect() for s in m.samples if s.name.endswith("_total")
    )


async def _until(condition: object, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def run_soak(params: SoakParams, work: Path, prompt_cache: Path) -> SoakReport:
    """Run the soak in ``work`` (a fresh directory) and return its report."""
    t0 = time.monotonic()
    spooled_before = _spooled()
    report = SoakReport(params)
    rng = random.Random(params.seed)
    idlog = soak_debug.IdLog(t0) if os.environ.get("SOAK_DEBUG") else None
    stack: contextlib.AsyncExitStack = contextlib.AsyncExitStack()
    if idlog is not None:
        idlog.attach()
        stack.callback(idlog.detach)
    async with stack:
        st = await build_stack(params, work, prompt_cache, stack)
        env, switch, clock, deps, dialler = st.env, st.switch, st.clock, st.deps, st.dialler
        host, port, behaviour, settings = st.host, st.port, st.behaviour, st.settings
        hot = fresh_numbers(params.hot_numbers)
        behaviour.always_busy.update(hot)
        seeded = fresh_numbers(params.seeded_dnc)
        for number in seeded:
            await env.svc.add_dnc(cust(number), source="soak", reason="seeded", actor="soak")
        listed: list[str] = [*hot]
        campaigns: list[Campaign] = []
        lists_dir = work / "lists"
        lists_dir.mkdir()

        def new_campaign(size: int = params.campaign_size) -> None:
            numbers = fresh_numbers(size)
            listed.extend(numbers)
            camp = env.campaign(max_concurrency=params.campaign_concurrency,
                                max_cps=params.campaign_cps, max_attempts=3)  # fmt: skip
            env.load(camp, lists_dir, [*hot, *seeded, *numbers])
            env.start(camp)
            campaigns.append(camp)

        def inbound_number() -> str:
            # campaign numbers call in too: a refusal there must stop the dialler
            return rng.choice(listed) if rng.random() < 0.4 else fresh_numbers(1)[0]

        # a campaign of the hot numbers alone retries them at once: with the others (which
        # list them first) they are wanted more than 3 times a day
        await asyncio.to_thread(new_campaign, 0)
        for _ in range(params.campaigns_at_once):
            await asyncio.to_thread(new_campaign)
        load = InboundLoad(host, port, inbound_number, params.inbound_concurrency,
                           params.time_scale, seed=params.seed)  # fmt: skip
        faults = Faults(st.redis, st.postgres, st.bot, st.listener, load,
                        switch.drop_connections, clock, hold_s=params.hold_s)  # fmt: skip
        stop = asyncio.Event()
        end_at = t0 + params.duration_s

        async def keep_campaigns() -> None:
            while not stop.is_set():
                await asyncio.sleep(1.0)
                with contextlib.suppress(Exception):  # PostgreSQL may be restarting
                    for camp in campaigns[1:][-params.campaigns_at_once :]:
                        state = (await asyncio.to_thread(env.repo.get, camp.id)).state
                        if state is CampaignState.FINISHED and time.monotonic() < end_at - 10:
                            await asyncio.to_thread(new_campaign)

        async def watch_peak() -> None:
            while not stop.is_set():
                report.counts["inbound_peak"] = max(report.counts["inbound_peak"], load.in_flight())
                await asyncio.sleep(0.5)

        emptied: list[float] = []  # when the outage spool was empty again (monotonic)
        spool_trace: list[tuple[float, int]] = []  # (seconds since the start, items) at changes

        async def watch_spool() -> None:
            was = 0
            while not stop.is_set():
                now_n = await asyncio.to_thread(st.outage.spool.count)
                report.counts["spool_peak"] = max(report.counts["spool_peak"], now_n)
                if was and not now_n:
                    emptied.append(time.monotonic())
                if now_n != was:
                    spool_trace.append((round(time.monotonic() - t0, 2), now_n))
                was = now_n
                await asyncio.sleep(0.05)

        dial_task = asyncio.create_task(dialler.run())
        load_task = asyncio.create_task(load.run())
        helpers = [asyncio.create_task(keep_campaigns()), asyncio.create_task(watch_peak()),
                   asyncio.create_task(watch_spool())]  # fmt: skip
        remaining = max(0.0, end_at - time.monotonic())
        await faults.run(remaining, params.cycle_s or remaining, stop)
        await asyncio.sleep(max(0.0, end_at - time.monotonic()))
        # drain: no new calls, campaigns stopped, every call followed to its end
        stop.set()
        load.stop()
        for task in helpers:
            task.cancel()
        for camp in campaigns:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(env.repo.apply, camp.id, "stop", now=clock())
        await asyncio.wait_for(load_task, params.drain_s)
        dialler.stop()
        drain_t0 = time.monotonic()
        await asyncio.wait_for(dial_task, params.drain_s)
        report.counts["dialler_drain_s"] = round(time.monotonic() - drain_t0)
        await _until(lambda: not switch.calls, params.drain_s)
        await st.server.wait_idle()
        report.counts["spooled_writes"] = int(_spooled() - spooled_before)
        spool_t0 = time.monotonic()
        await _until(lambda: st.outage.spool.count() == 0, params.drain_s)
        report.counts["spool_drain_s"] = round(time.monotonic() - spool_t0)

        # the audit
        spans = {name: [(f.start_mono, f.end_mono) for f in faults.records if f.name == name]
                 for name in ("postgres_restart", "bot_kill")}  # fmt: skip
        audit = Audit(db_down=spans["postgres_restart"], bot_down=spans["bot_kill"])
        for _, back in spans["postgres_restart"]:  # PostgreSQL answering again → spool empty
            after = [t - back for t in emptied if t >= back]
            c_ms = round(1000 * min(after)) if after else -1
            report.counts["spool_empty_after_ms"] = max(report.counts["spool_empty_after_ms"], c_ms)
        log = list(switch.originate_log)
        by_uuid = {r.uuid: r for r in log}
        outbound = {
            res.uuid: (by_uuid[res.uuid], res) for res in switch.results if res.uuid in by_uuid
        }
        inst, bot_id = settings.institution_name, settings.bot_id
        closes = set()
        for flow in ("outbound_marketing", "inbound_service"):
            with contextlib.suppress(KeyError):
                closes.add(prompt_file(deps, inst, bot_id, flow, "refusal_close"))
        pitch = prompt_file(deps, inst, bot_id, "outbound_marketing", "pitch")
        acks = acknowledgements(load.calls, outbound, refusal_close=closes, pitch=pitch)
        audit_originates(log, clock, seeded_dnc=set(seeded), acks=acks, audit=audit)
        await audit_ledgers(env.svc, acks, audit)
        await audit_unacknowledged(env.svc, load.calls, acks, audit)
        evidence = SqlEvidenceLog(env.engine)
        kinds = await asyncio.to_thread(audit_chain_and_ends, evidence, env.engine,
                                        load.calls, log, audit)  # fmt: skip
        audit_silence([("inbound", c.result) for c in load.calls if c.result is not None], audit)
        audit_silence([("outbound", res) for _, res in outbound.values()], audit)
        for call in load.calls:
            if call.error is not None:
                audit.flag("no_end", f"inbound call failed in the simulator: {call.error}")
        if idlog is not None:
            await asyncio.to_thread(
                soak_debug.dump, Path(os.environ["SOAK_DEBUG"]), load=load, outbound=outbound,
                log=log, kinds=kinds, faults=faults, violations=audit.violations,
                engine=env.engine, idlog=idlog, t0=t0, spool_trace=spool_trace,
            )  # fmt: skip

        c = report.counts
        c.update(audit.counts)
        c["inbound_calls"] = len(load.calls)
        c["inbound_dropped"] = sum(1 for x in load.calls if x.fault is not None)
        c["inbound_errors"] = sum(1 for x in load.calls if x.error is not None)
        c["campaigns"] = len(campaigns)
        c["originates"] = len(log)
        c["answered"] = sum(1 for r in log if r.outcome == ANSWERED)
        hot_set = set(hot)
        c["hot_max_per_day"] = max(
            (n for (num, _), n in audit.per_day.items() if num in hot_set), default=0
        )
        c["refused_inbound_then_listed"] = sum(
            1 for x in load.calls
            if x.number in acks.refusals and x.number in listed and x.kind in REFUSING_INBOUND
        )  # fmt: skip
        with env.engine.connect() as conn:
            c["dispositions"] = int(conn.execute(
                sa.select(sa.func.count()).where(attempts.c.disposition.is_not(None))
            ).scalar_one())  # fmt: skip
            c["hangups_missed"] = int(conn.execute(
                sa.select(sa.func.count()).where(attempts.c.hangup_cause == "MAX_CALL_TIME")
            ).scalar_one())  # fmt: skip
        report.faults = [f"{f.name} {f.end_mono - f.start_mono:.1f}s" for f in faults.records]
        report.fault_errors = [f"{f.name}: {f.error}" for f in faults.records if f.error]
        report.violations = audit.violations
    report.elapsed_s = time.monotonic() - t0
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="the bounded fault soak (README: Fault soak)")
    d = SoakParams()
    p.add_argument("--minutes", type=float, default=d.duration_s / 60)
    p.add_argument("--calls", type=int, default=d.inbound_concurrency, help="concurrent inbound")
    p.add_argument("--time-scale", type=float, default=d.time_scale)
    p.add_argument("--campaign-size", type=int, default=d.campaign_size)
    p.add_argument("--campaign-concurrency", type=int, default=d.campaign_concurrency)
    p.add_argument("--campaign-cps", type=float, default=d.campaign_cps)
    p.add_argument("--cycle-minutes", type=float, default=5.0, help="one cycle of every fault")
    p.add_argument("--hold", type=float, default=d.hold_s, help="seconds each fault lasts")
    p.add_argument("--bot", choices=("stub", "rasa"), default=d.bot)
    a = p.parse_args(argv)
    params = SoakParams(
        duration_s=a.minutes * 60, inbound_concurrency=a.calls, time_scale=a.time_scale,
        campaign_size=a.campaign_size, campaign_concurrency=a.campaign_concurrency,
        campaign_cps=a.campaign_cps, cycle_s=a.cycle_minutes * 60, hold_s=a.hold, bot=a.bot,
    )  # fmt: skip
    work = Path(tempfile.mkdtemp(prefix="ivr-soak-"))
    cache = HERE.parent.parent / "var" / "soak-prompt-cache"
    cache.mkdir(parents=True, exist_ok=True)
    try:
        report = asyncio.run(run_soak(params, work, cache))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(report.summary())
    return 0 if not report.violations and not report.fault_errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
