"""The dashboard's numbers (pure): counted from evidence entries given with their times.

Calls now (started in the last hours, not ended), calls today by hour in the institution's
zone, consents and DNC changes per day for a week, escalations and callbacks today, and the
gate's denials by reason (given by the caller from the decision log).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

CALL_KINDS = ("call_started", "call_ended", "call_aborted")
CONSENT_KINDS = {
    "consent_granted": "granted",
    "consent_refused": "refused",
    "consent_revoked": "revoked",
}
DNC_KINDS = {"dnc_added": "added", "dnc_removed": "removed"}
QUEUE_KINDS = ("escalated", "callback_scheduled")
KINDS = (*CALL_KINDS, *CONSENT_KINDS, *DNC_KINDS, *QUEUE_KINDS)
OPEN_CALL_HOURS = 4
DAYS = 7


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    at: datetime
    call_id: str | None


def window_start(now: datetime, zone: str) -> datetime:
    """The earliest time the dashboard needs: midnight DAYS-1 days ago, institution zone."""
    local = now.astimezone(ZoneInfo(zone))
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return min(midnight - timedelta(days=DAYS - 1), now - timedelta(hours=OPEN_CALL_HOURS))


def summarise(
    events: Iterable[Event], now: datetime, zone: str, denials: Mapping[str, int]
) -> dict[str, Any]:
    tz = ZoneInfo(zone)
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=n) for n in range(DAYS - 1, -1, -1)]
    started: dict[str, datetime] = {}
    ended: set[str] = set()
    by_hour: Counter[int] = Counter()
    consents = {d: Counter[str]() for d in days}
    dnc = {d: Counter[str]() for d in days}
    queues: Counter[str] = Counter()
    for e in events:
        local = e.at.astimezone(tz)
        if e.kind == "call_started":
            if e.call_id:
                started[e.call_id] = e.at
            if local.date() == today:
                by_hour[local.hour] += 1
        elif e.kind in ("call_ended", "call_aborted") and e.call_id:
            ended.add(e.call_id)
        elif e.kind in CONSENT_KINDS and local.date() in consents:
            consents[local.date()][CONSENT_KINDS[e.kind]] += 1
        elif e.kind in DNC_KINDS and local.date() in dnc:
            dnc[local.date()][DNC_KINDS[e.kind]] += 1
        elif e.kind in QUEUE_KINDS and local.date() == today:
            queues[e.kind] += 1
    recent = now - timedelta(hours=OPEN_CALL_HOURS)
    calls_now = sum(1 for cid, at in started.items() if at >= recent and cid not in ended)
    return {
        "calls_now": calls_now,
        "calls_today": sum(by_hour.values()),
        "calls_by_hour": [{"hour": f"{h:02d}", "calls": by_hour[h]} for h in range(24)],
        "gate_denials": [{"reason": r, "count": n} for r, n in sorted(denials.items())],
        "consents_by_day": [
            {"day": d.isoformat()[5:], **{k: consents[d][k] for k in CONSENT_KINDS.values()}}
            for d in days
        ],
        "dnc_by_day": [
            {"day": d.isoformat()[5:], **{k: dnc[d][k] for k in DNC_KINDS.values()}} for d in days
        ],
        "queues": [{"what": k, "count": queues[k]} for k in QUEUE_KINDS],
    }
