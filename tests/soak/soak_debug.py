"""The soak's per-call dump (``SOAK_DEBUG=file``): what a soak that found something needs to be
read without running it again.

- every inbound call: its kind, fault, when the switch hung it up (``hung``) and when the
  simulated call ended (``end``: the app let the connection go), who hung up, what it heard and
  the evidence kinds of its call id;
- every outbound leg and originate (attempt id, outcome, times);
- the faults' spans, and the outage spool's size each time it changed;
- for each call id and attempt id a violation names, the calls the app held longest after
  their hangup and a sample of calls over the whole run: the app's last log lines about it (the
  product's own INFO lines, captured by :class:`IdLog` while the soak runs; they carry ids,
  never numbers) and, for an attempt, its row in the queue (state, disposition, times).

Times are seconds since the soak started.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from soak_calls import InboundLoad, played
from soak_faults import Faults

from campaigns.tables import attempts
from telephony.simulator import CallResult
from telephony.simulator.dialing import OriginateRecord

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
LOGGERS = ("flows", "telephony", "campaigns", "compliance", "records", "ivr")
SLOWEST = 20  # the calls the app held longest after their hangup: their log lines too
FIELDS = ("state", "disposition", "claimed_by", "due_at", "dialled_at", "lease_until",
          "ended_at", "hangup_cause", "gate_reasons", "attempt_no")  # fmt: skip


class IdLog(logging.Handler):
    """The last ``keep`` log lines naming each id (a uuid among the record's arguments)."""

    def __init__(self, t0: float, keep: int = 16) -> None:
        super().__init__(logging.INFO)
        self.t0 = t0
        self.keep = keep
        self.lines: defaultdict[str, deque[str]] = defaultdict(lambda: deque(maxlen=keep))
        self._levels: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        ids = [a for a in args if isinstance(a, str) and UUID.fullmatch(a)]
        if not ids:
            return
        try:
            line = f"{time.monotonic() - self.t0:8.2f} {record.levelname[0]} {record.getMessage()}"
        except Exception:  # a debug aid never breaks the soak
            return
        for one in ids:
            self.lines[one].append(line[:300])

    def attach(self) -> None:
        for name in LOGGERS:
            logger = logging.getLogger(name)
            self._levels[name] = logger.level
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
            logger.addHandler(self)

    def detach(self) -> None:
        for name, level in self._levels.items():
            logger = logging.getLogger(name)
            logger.removeHandler(self)
            logger.setLevel(level)


def dump(
    path: Path,
    *,
    load: InboundLoad,
    outbound: dict[str, tuple[OriginateRecord, CallResult]],
    log: list[OriginateRecord],
    kinds: dict[str, set[str]],
    faults: Faults,
    violations: list[str],
    engine: sa.Engine,
    idlog: IdLog | None,
    t0: float,
    spool_trace: list[tuple[float, int]],
) -> None:
    """Write the dump (see the module docstring)."""

    def at(mono: float | None) -> float | None:
        return None if not mono else round(mono - t0, 2)

    rows: list[dict[str, object]] = []
    for call in load.calls:
        r = call.result
        rows.append({"dir": "in", "kind": call.kind, "fault": str(call.fault),
                     "start": at(call.started_mono), "hung": at(call.hung_mono),
                     "end": at(call.ended_mono), "error": call.error,
                     "uuid": r.uuid if r else None, "by": r.hangup_by if r else None,
                     "timed_out": r.timed_out if r else None,
                     "played": len(played(r)) if r else 0,
                     "evidence": sorted(kinds.get(r.uuid, ())) if r else []})  # fmt: skip
    for rec, res in outbound.values():
        rows.append({"dir": "out", "end": at(rec.ended_at), "uuid": rec.uuid,
                     "by": res.hangup_by, "played": len(played(res)), "outcome": rec.outcome,
                     "evidence": sorted(kinds.get(rec.uuid, ()))})  # fmt: skip
    spans = [(f.name, at(f.start_mono), at(f.end_mono)) for f in faults.records]
    legs = [{"uuid": r.uuid, "at": at(r.received_at), "outcome": r.outcome,
             "end": at(r.ended_at), "n": r.variables.get("ivr_customer_number", "")[-4:],
             "attempt": r.variables.get("ivr_attempt_id")} for r in log]  # fmt: skip
    named = sorted({m for v in violations for m in UUID.findall(v)})
    held = sorted(
        (c for c in load.calls if c.result is not None and c.hung_mono),
        key=lambda c: c.ended_mono - c.hung_mono,
    )
    by_start = sorted(held, key=lambda c: c.started_mono)  # and a sample over the whole run
    picked = held[-SLOWEST:] + by_start[:: max(1, len(by_start) // SLOWEST)]
    named += [c.result.uuid for c in picked if c.result is not None and c.result.uuid not in named]
    details: dict[str, dict[str, Any]] = {}
    for one in named:
        details[one] = {"log": list(idlog.lines.get(one, ())) if idlog else []}
    with engine.connect() as conn:
        for row in conn.execute(sa.select(attempts).where(attempts.c.id.in_(named))):
            m = row._mapping
            details[str(m["id"])]["attempt"] = {
                k: str(m[k]) if m[k] is not None else None for k in FIELDS
            }
            siblings = conn.execute(
                sa.select(attempts.c.id, attempts.c.attempt_no, attempts.c.state,
                          attempts.c.disposition, attempts.c.created_at)
                .where(attempts.c.contact_id == m["contact_id"])
                .order_by(attempts.c.attempt_no)
            ).all()  # fmt: skip
            details[str(m["id"])]["contact_attempts"] = [
                [r.id[:8], r.attempt_no, r.state, r.disposition, str(r.created_at)]
                for r in siblings
            ]
    body = {"faults": spans, "violations": violations, "spool": spool_trace, "details": details,
            "calls": rows, "legs": legs}  # fmt: skip
    path.write_text(json.dumps(body, indent=1, ensure_ascii=False))
