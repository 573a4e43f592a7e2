"""The soak's audit, after the run has drained: what was dialled is judged from the simulated
switch's own originate log (times mapped to the soak clock), what callers heard from the
switch's call results, and only then the product's stores (DNC and consent ledgers, the evidence
chain, the attempts table) are checked against that.

Violations (each a line naming the check, never a full number):

- ``dnc``: an originate to a number seeded on DNC, or received after a refusal of that number
  was acknowledged to the caller (the polite close played);
- ``cap``: more than ``cap`` originates to a number in one callee-local day;
- ``quiet``: an originate received outside 08:00-22:00 callee local time (Asia/Shanghai), and
  ``IN_FLIGHT_S`` before it too (a permit given just before the clock jumped into the night is
  still on its way to the switch: the same tolerance a real clock gives at 22:00:00);
- ``legs``: camp_support's log audit (two live legs for one number, missing leg variables);
- ``dnc_lost`` / ``consent_lost``: an acknowledged refusal not on DNC, an acknowledged consent
  (the pitch played, which only follows a recorded consent) not in the consent ledger;
- ``chain``: the evidence chain does not verify;
- ``no_end``: a call without ``call_ended``/``call_aborted`` evidence, an originated attempt
  without a disposition, an originate the switch never ended;
- ``silence``: a caller whose call never ended (timed out at the simulator's deadline).

Outages: while PostgreSQL is down the call process spools evidence, DNC entries and consents
(``compliance.outage``) and its drainer replays them when it is back (the run waits for the
spool to drain before the audit), so a PostgreSQL outage is no excuse: ``no_end`` and
``dnc_lost`` are violations whenever they happen. While the bot is down a refusal is not
understood (the caller goes to a human): an unacknowledged refusal missing from DNC whose call
overlapped a bot outage (plus ``OUTAGE_GRACE_S``) is counted as ``lost_in_outage_dnc_lost`` and
reported, not flagged. Acknowledged refusals and consents are violations whenever they are lost.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import time as dtime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from camp_support import audit as log_audit
from soak_calls import REFUSING_INBOUND, InboundCall, played
from soak_services import SoakClock

from campaigns.tables import attempts
from compliance.service import ComplianceService
from ivr.phone import customer_number
from records.evidence_store import SqlEvidenceLog
from telephony.simulator import CallResult
from telephony.simulator.dialing import ANSWERED, OriginateRecord

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY_START, DAY_END = dtime(8, 0), dtime(22, 0)
ENDED_KINDS = {"call_ended", "call_aborted"}
OUTAGE_GRACE_S = 2.0
IN_FLIGHT_S = 1.0
Span = tuple[float, float]


def _mask(national: str) -> str:
    return f"…{national[-4:]}"


@dataclass
class Audit:
    """Violations and counts; ``db_down``/``bot_down``: the outages' monotonic spans."""

    db_down: list[Span] = field(default_factory=list)
    bot_down: list[Span] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)
    per_day: Counter[tuple[str, object]] = field(default_factory=Counter)  # (number, day) → n

    def flag(self, check: str, what: str) -> None:
        self.counts[f"violations_{check}"] += 1
        if len(self.violations) < 200:
            self.violations.append(f"{check}: {what}")

    def in_outage(self, call: Span, outages: list[Span]) -> bool:
        start, end = call
        return any(start <= o_end + OUTAGE_GRACE_S and end >= o_start for o_start, o_end in outages)

    def flag_unless_outage(self, check: str, what: str, call: Span, outages: list[Span]) -> None:
        if self.in_outage(call, outages):
            self.counts[f"lost_in_outage_{check}"] += 1
        else:
            self.flag(check, what)


@dataclass
class Acks:
    """What callers were told (from the switch's results): refusal acknowledged at (monotonic),
    consent acknowledged; national numbers."""

    refusals: dict[str, float] = field(default_factory=dict)
    consents: set[str] = field(default_factory=set)


def acknowledgements(
    inbound: Iterable[InboundCall],
    outbound: Mapping[str, tuple[OriginateRecord, CallResult]],
    *,
    refusal_close: set[str],
    pitch: str,
) -> Acks:
    acks = Acks()

    def refused(national: str, at: float) -> None:
        acks.refusals[national] = min(at, acks.refusals.get(national, at))

    for call in inbound:
        if call.result is not None and refusal_close & set(played(call.result)):
            refused(call.number, call.ended_mono)
    for record, result in outbound.values():
        heard = set(played(result))
        national = record.variables.get("ivr_customer_number", "")[-11:]
        if refusal_close & heard:
            refused(national, record.ended_at or 0.0)
        if pitch in heard:
            acks.consents.add(national)
    return acks


def audit_originates(
    log: list[OriginateRecord],
    clock: SoakClock,
    *,
    seeded_dnc: set[str],
    acks: Acks,
    cap: int = 3,
    audit: Audit,
) -> None:
    per_day = audit.per_day
    for rec in log:
        national = rec.variables.get("ivr_customer_number", "")[-11:]
        local = clock.at(rec.received_at).astimezone(SHANGHAI)
        if national in seeded_dnc:
            audit.flag("dnc", f"originate to seeded DNC number {_mask(national)}")
        refused_at = acks.refusals.get(national)
        if refused_at is not None and rec.received_at > refused_at:
            audit.flag("dnc", f"originate to {_mask(national)} after its refusal was acknowledged")
        sent = clock.at(rec.received_at - IN_FLIGHT_S).astimezone(SHANGHAI)
        if not any(DAY_START <= t.time() < DAY_END for t in (local, sent)):
            audit.flag("quiet", f"originate to {_mask(national)} at {local:%H:%M:%S} local")
        per_day[(national, local.date())] += 1
    for (national, day), n in per_day.items():
        if n > cap:
            audit.flag("cap", f"{n} originates to {_mask(national)} on {day} > {cap}")
    # camp_support's audit counts originates over the whole log (the per-day cap is above)
    # and reports overlapping legs without times: both are done here instead
    for problem in _log_problems(log):
        if "originates > cap" not in problem and "two legs at once" not in problem:
            audit.flag("legs", problem)
    spans: defaultdict[str, list[OriginateRecord]] = defaultdict(list)
    for rec in log:
        spans[rec.variables.get("ivr_customer_number", "")[-11:]].append(rec)
    t0 = min((r.received_at for r in log), default=0.0)
    for national, recs in spans.items():
        recs.sort(key=lambda r: r.received_at)
        for a, b in itertools.pairwise(recs):
            a_end = a.ended_at if a.ended_at is not None else float("inf")
            if b.received_at < a_end:
                audit.flag("legs", f"two live legs to {_mask(national)}: {a.uuid} "
                           f"({a.received_at - t0:.1f}-{a_end - t0:.1f} s, {a.outcome}) and "
                           f"{b.uuid} from {b.received_at - t0:.1f} s")  # fmt: skip


def _log_problems(log: list[OriginateRecord]) -> list[str]:
    class _Switch:  # camp_support.audit reads only ``originate_log``
        originate_log = log

    return log_audit(_Switch(), cap=10**9)  # type: ignore[arg-type]


async def audit_ledgers(svc: ComplianceService, acks: Acks, audit: Audit) -> None:
    for national in acks.refusals:
        customer = customer_number(national)
        if customer is None or await svc.dnc_entry(customer) is None:
            audit.flag("dnc_lost", f"acknowledged refusal of {_mask(national)} not on DNC")
    for national in acks.consents:
        customer = customer_number(national)
        found = [] if customer is None else await svc.list_consents(customer)
        if not any(c.purpose == "marketing" for c in found):
            audit.flag("consent_lost", f"acknowledged consent of {_mask(national)} not on file")
    audit.counts["refusals_acknowledged"] = len(acks.refusals)
    audit.counts["consents_acknowledged"] = len(acks.consents)


def audit_chain_and_ends(
    evidence: SqlEvidenceLog,
    engine: sa.Engine,
    inbound: Iterable[InboundCall],
    log: list[OriginateRecord],
    audit: Audit,
) -> dict[str, set[str]]:
    """Returns each call id's evidence kinds."""
    result = evidence.verify()
    if not result.ok:
        audit.flag("chain", f"evidence chain does not verify: {result}")
    kinds: defaultdict[str, set[str]] = defaultdict(set)
    total = 0
    for entry in evidence.entries():
        total += 1
        if entry.call_id is not None:
            kinds[entry.call_id].add(str(entry.kind))
    audit.counts["evidence_entries"] = total
    for call in inbound:
        if call.result is None:
            continue
        if audit.in_outage((call.started_mono, call.ended_mono), audit.db_down):
            audit.counts["calls_in_db_outage"] += 1
        if not kinds.get(call.result.uuid, set()) & ENDED_KINDS:
            audit.flag("no_end", f"call {call.result.uuid} has no call_ended/call_aborted evidence")
    ids = [r.variables.get("ivr_attempt_id", "") for r in log]
    with engine.connect() as conn:
        done = {
            row.id: row.disposition
            for row in conn.execute(sa.select(attempts.c.id, attempts.c.disposition))
        }
    for rec, attempt_id in zip(log, ids, strict=True):
        if rec.ended_at is None or rec.outcome == "pending":
            audit.flag("no_end", f"originate {rec.uuid} never ended on the switch")
            continue
        if not done.get(attempt_id):
            audit.flag("no_end", f"attempt {attempt_id} was dialled but has no disposition")
        if rec.outcome == ANSWERED and not kinds.get(rec.uuid, set()) & ENDED_KINDS:
            audit.flag("no_end", f"answered leg {rec.uuid} has no call_ended evidence")
    return dict(kinds)


def audit_silence(results: Iterable[tuple[str, CallResult]], audit: Audit) -> None:
    for who, result in results:
        if result.timed_out or result.hangup_by is None:
            audit.flag("silence", f"{who} call {result.uuid} never ended (caller left waiting)")
        elif not played(result) and result.hangup_by != "caller" and not result.fault_injected:
            audit.counts["ended_without_a_prompt"] += 1


async def audit_unacknowledged(
    svc: ComplianceService, inbound: Iterable[InboundCall], acks: Acks, audit: Audit
) -> None:
    """Refusals the callers made that were never acknowledged (the bot path hangs up without a
    close; an outage or a dropped connection cut the call): each must be on DNC unless the call
    overlapped a bot outage or its connection was dropped (then it is counted)."""
    outages = audit.bot_down
    for call in inbound:
        if call.kind not in REFUSING_INBOUND or call.number in acks.refusals:
            continue
        audit.counts["refusals_unacknowledged"] += 1
        customer = customer_number(call.number)
        if customer is None or await svc.dnc_entry(customer) is not None:
            continue
        if call.fault is not None or call.result is None:
            audit.counts["lost_in_fault_refusal"] += 1
            continue
        audit.flag_unless_outage(
            "dnc_lost", f"refusal of {_mask(call.number)} (never acknowledged) not on DNC",
            (call.started_mono, call.ended_mono), outages,
        )  # fmt: skip
