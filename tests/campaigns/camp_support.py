"""Helpers of the dialler tests: real stores, the simulated switch, a callee-side app, audits.

:class:`DiallerEnv` is one database (SQLite file or a private PostgreSQL database) with the real
compliance service (SQL gate store, or Redis), the real evidence chain, the list importer and
the attempt queue. :class:`CalleeApp` stands in for the outbound flow at the far end of the
shipped ``ivr_outbound`` extension: it reads the leg's variables and, per number, refuses (DNC
through the real compliance service, ``call_ended`` reason ``refused``), consents or completes,
writing the evidence the real orchestrator writes for those outcomes. :func:`audit` checks the
simulator's own originate log, never the dialler's records.
"""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from helpers.compliance_data import BASE_RULES, INDEX_KEY
from helpers.compliance_data import REDIS_URL as REDIS_URL

from campaigns.agent_pacing import AgentPacing
from campaigns.dialler import Dialler, DiallerConfig
from campaigns.importer import ListImporter
from campaigns.model import CampaignState, DailyWindow, Disposition, RetryPolicy, RetryRule
from campaigns.outcomes import EvidenceOutcomes, HangupWatcher
from campaigns.pacing import LocalPacer, Pacer
from campaigns.queue import AttemptQueue
from campaigns.repository import Campaign, CampaignRepository
from campaigns.spec import CampaignSpec
from campaigns.tables import attempts
from compliance.guard import SqlPool
from compliance.outage import OutageSpool
from compliance.redis_store import RedisGateStore
from compliance.reload import LoadedRules, RulesHolder
from compliance.rules import parse_rules
from compliance.service import ComplianceService
from compliance.sql import SqlLedger
from compliance.sql_gate import SqlGateStore
from flows.channel_vars import LegVariables
from ivr.db import make_engine
from ivr.evidence import EvidenceKind
from ivr.phone import CustomerNumber, customer_number, normalize
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.sealed_number import NumberSealer
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.session import CallSession
from telephony.simulator import Dialplan, InboundSwitch
from telephony.simulator.dialing import DialOutcome, OutcomeMix

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


class Clock:
    """A settable clock."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


MASTER_KEY = bytes.fromhex("ffeeddccbbaa99887766554433221100")
RULES = BASE_RULES.replace(
    "  service:\n    daily_cap: 3",
    '  service:\n    window: {start: "08:00", end: "22:00"}\n    daily_cap: 3',
)
SH_NOON = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 Asia/Shanghai


class RunningClock(Clock):
    """Real time passing from a settable instant (``clock.now = ...`` jumps; time then runs
    on), so requeues a few seconds ahead come due as they would in production."""

    def __init__(self, now: datetime) -> None:
        self._base = now
        self._t0 = time.monotonic()

    @property
    def now(self) -> datetime:
        return self._base + timedelta(seconds=time.monotonic() - self._t0)

    @now.setter
    def now(self, value: datetime) -> None:
        self._base, self._t0 = value, time.monotonic()

    def __call__(self) -> datetime:
        return self.now


_seq = iter(range(10**7))


def fresh_numbers(n: int) -> list[str]:
    """``n`` valid mainland mobile numbers, unique in this session (national form)."""
    base = uuid.uuid4().int % 10**3
    return [f"139{base:03d}{next(_seq) % 10**5:05d}" for _ in range(n)]


def cust(number: str) -> CustomerNumber:
    c = customer_number(number)
    assert c is not None
    return c


def write_list(path: Path, numbers: Iterable[str], extra: Mapping[str, list[str]] | None = None,
               timezones: Mapping[str, str] | None = None) -> Path:  # fmt: skip
    extra = dict(extra or {})
    cols = ["number", "timezone", *extra]
    lines = [",".join(cols)]
    for i, n in enumerate(numbers):
        tz = (timezones or {}).get(n, "")
        lines.append(",".join([n, tz, *(v[i] for v in extra.values())]))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@dataclass
class DiallerEnv:
    url: str
    engine: sa.Engine
    svc: ComplianceService
    evidence: SqlEvidenceLog
    sealer: NumberSealer
    clock: Clock
    repo: CampaignRepository = field(init=False)
    queue: AttemptQueue = field(init=False)
    importer: ListImporter = field(init=False)

    def __post_init__(self) -> None:
        self.repo = CampaignRepository(self.engine)
        self.queue = AttemptQueue(self.engine)
        self.importer = ListImporter(self.engine, self.sealer)

    def campaign(self, name: str | None = None, **changes: object) -> Campaign:
        spec = CampaignSpec(
            **{  # type: ignore[arg-type]
                "name": name or f"c-{uuid.uuid4().hex[:8]}",
                "flow_id": "outbound_marketing",
                "purpose": "marketing",
                "caller_ids": ("95588", "95589"),
                "windows": (DailyWindow(8 * 60, 22 * 60),),
                "max_attempts": 3,
                "retry": RetryPolicy(
                    {
                        Disposition.BUSY: RetryRule(0, 2),
                        Disposition.NO_ANSWER: RetryRule(0, 2),
                        Disposition.FAILED: RetryRule(0, 1),
                    }
                ),
                "max_concurrency": 20,
                "max_cps": 200.0,
                **changes,
            }
        )
        return self.repo.create(spec, actor="test", now=self.clock())

    def load(self, camp: Campaign, tmp: Path, numbers: list[str], **kw: object) -> None:
        path = write_list(tmp / f"{uuid.uuid4().hex}.csv", numbers, **kw)  # type: ignore[arg-type]
        result = self.importer.import_file(camp, path, placeholders=set(), now=self.clock())
        assert not result.errors, result.errors

    def start(self, camp: Campaign) -> None:
        self.repo.apply(camp.id, "start", now=self.clock())

    def dispositions(self, camp: Campaign) -> dict[str, list[str]]:
        """Blind index → dispositions of its attempts, in order."""
        out: dict[str, list[str]] = {}
        with self.engine.connect() as conn:
            for r in conn.execute(
                sa.select(attempts.c.number_bi, attempts.c.disposition, attempts.c.state)
                .where(attempts.c.campaign_id == camp.id)
                .order_by(attempts.c.attempt_no)
            ):
                out.setdefault(r.number_bi, []).append(r.disposition or r.state)
        return out

    def bi(self, number: str) -> str:
        return self.sealer.blind_index(cust(number))

    async def close(self) -> None:
        await self.svc.close()
        self.queue.close()
        self.engine.dispose()


def build_env(
    url: str,
    clock: Clock,
    *,
    redis_prefix: str | None = None,
    redis_url: str = REDIS_URL,
    outage: OutageSpool | None = None,
) -> DiallerEnv:
    """``outage``: the call process's outage spool (the soak): the service spools DNC entries,
    consents and their evidence there when the database is down."""
    engine = make_engine(url)
    sql = SqlPool("camp-sql", workers=4, max_pending=512)
    store: RedisGateStore | SqlGateStore
    if redis_prefix is not None:
        store = RedisGateStore(redis_url, redis_prefix, 0.5)
    else:
        store = SqlGateStore(engine, sql)
    evidence = SqlEvidenceLog(engine)
    svc = ComplianceService(
        holder=RulesHolder(LoadedRules(parse_rules(RULES, "camp.yaml"), "h", "t")),
        ledger=SqlLedger(engine),
        gate_store=store,
        evidence=evidence if outage is None else outage.evidence,
        spool=None if outage is None else outage.ledger,
        index_key=INDEX_KEY,
        sql=sql,
        watcher=None,
        timeout_s=2.0,
        settle_s=0.0,
        clock=clock,
    )
    sealer = NumberSealer(Keyring.single(MASTER_KEY), INDEX_KEY)
    return DiallerEnv(url, engine, svc, evidence, sealer, clock)


class CalleeApp:
    """The far end of ``ivr_outbound`` (see the module docstring)."""

    def __init__(self, env: DiallerEnv, behaviour: Mapping[str, str] | None = None) -> None:
        self.env = env
        self.behaviour = dict(behaviour or {})  # E.164 → refuse | consent | complete
        self.calls: list[LegVariables] = []

    async def __call__(self, session: CallSession) -> None:
        leg = LegVariables.from_variables(session.channel_variables)
        self.calls.append(leg)
        await session.answer()
        number = customer_number(leg.customer_number)
        what = self.behaviour.get(number.e164 if number else "", "complete")
        reason = "completed"
        if what == "refuse" and number is not None:
            await self.env.svc.record_refusal(
                number, source="call", reason="refused in call", actor="bot", call_id=session.uuid
            )
            reason = "refused"
        elif what == "consent":
            await self.env.evidence.append(
                EvidenceKind.CONSENT_GRANTED, call_id=session.uuid, payload={"purpose": "marketing"}
            )
        await self.env.evidence.append(
            EvidenceKind.CALL_ENDED, call_id=session.uuid, payload={"reason": reason}
        )
        await session.hangup("NORMAL_CLEARING")


@dataclass
class Switchboard:
    """The simulated switch, its ESL client and the callee app, started together."""

    switch: InboundSwitch
    client: InboundClient
    server: OutboundServer
    hangups: HangupWatcher

    async def close(self) -> None:
        await self.client.close()
        await self.switch.close()
        await self.server.close(grace_s=2.0)


class HoldingCallee(CalleeApp):
    """Answers and holds the call until :attr:`release` is set, then completes and hangs up."""

    def __init__(self, env: DiallerEnv) -> None:
        super().__init__(env)
        self.release = asyncio.Event()

    async def __call__(self, session: CallSession) -> None:
        await session.answer()
        await self.release.wait()
        await self.env.evidence.append(
            EvidenceKind.CALL_ENDED, call_id=session.uuid, payload={"reason": "completed"}
        )
        await session.hangup("NORMAL_CLEARING")


async def switchboard(app: CalleeApp, tmp: Path, mix: OutcomeMix | None = None) -> Switchboard:
    server = OutboundServer(app, app.env.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    switch = InboundSwitch(
        socket_target=(host, port),
        dialplan=Dialplan.shipped({"recordings_dir": str(tmp / "fs")}),
        behaviour=mix,
    )
    shost, sport = await switch.start()
    client = InboundClient(shost, sport, "ClueCon", backoff_s=(0.05, 0.5))
    hangups = HangupWatcher()
    hangups.follow(client)
    await client.connect()
    return Switchboard(switch, client, server, hangups)


def make_dialler(env: DiallerEnv, board: Switchboard, *, pacer: Pacer | None = None,
                 worker: str | None = None, agent_pacing: AgentPacing | None = None,
                 **config: object) -> Dialler:  # fmt: skip
    return Dialler(
        campaigns=env.repo,
        queue=env.queue,
        gate=env.svc,
        esl=board.client,
        esl_ready=lambda: board.client.ready,
        hangups=board.hangups,
        outcomes=EvidenceOutcomes(env.engine),
        pacer=pacer or LocalPacer(),
        sealer=env.sealer,
        config=DiallerConfig(
            worker_id=worker or f"w-{uuid.uuid4().hex[:6]}",
            **config,  # type: ignore[arg-type]
        ),
        clock=env.clock,
        agent_pacing=agent_pacing,
    )


async def until(condition: Callable[[], bool], timeout_s: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


def audit(switch: InboundSwitch, *, cap: int = 3) -> list[str]:
    """Violations in the switch's own originate log: a number on two live legs at once, more
    than ``cap`` originates to a number, an originate without the leg variables."""
    problems: list[str] = []
    by_number: dict[str, list[tuple[float, float]]] = {}
    for rec in switch.originate_log:
        v = rec.variables
        for name in ("ivr_customer_number", "ivr_attempt_id", "ivr_campaign", "origination_uuid"):
            if not v.get(name):
                problems.append(f"{rec.uuid}: no {name}")
        if v.get("origination_uuid") != v.get("ivr_attempt_id"):
            problems.append(f"{rec.uuid}: origination_uuid is not the attempt id")
        number = normalize(v.get("ivr_customer_number", "0"))
        end = rec.ended_at if rec.ended_at is not None else float("inf")
        by_number.setdefault(number, []).append((rec.received_at, end))
    for number, spans in by_number.items():
        if len(spans) > cap:
            problems.append(f"{number[-4:]}: {len(spans)} originates > cap {cap}")
        spans.sort()
        for (_, e1), (s2, _) in itertools.pairwise(spans):
            if s2 < e1:
                problems.append(f"{number[-4:]}: two legs at once")
    return problems


def per_number(numbers: Mapping[str, DialOutcome]) -> OutcomeMix:
    return OutcomeMix(per_number={k: v for k, v in numbers.items()})


__all__ = ["PG_ADMIN", "CampaignState", "Clock"]
