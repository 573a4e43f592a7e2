"""The floor's figures for the console dashboard: the same Prometheus metrics Grafana shows
(this process's registry plus the call process's ``/metrics`` when ``IVR_METRICS_PORT`` is
set), and the desks, tickets, callbacks and dead letters from SQL.

:func:`summarise_metrics` (pure) turns exposition text into the figures: calls active, gate
decisions by reason, bot and ASR latency p95, queue waits (mean, p90) and answered / abandoned
/ timed-out callers per queue, QA live alerts, evidence appends and failures, errors.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections import Counter, defaultdict
from datetime import datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import REGISTRY, generate_latest
from prometheus_client.parser import text_string_to_metric_families

if TYPE_CHECKING:
    from agents.service import FloorRuntime


def _quantile(buckets: dict[float, float], q: float) -> float | None:
    """The ``q`` quantile from cumulative histogram buckets (upper bound of its bucket)."""
    if not buckets:
        return None
    total = max(buckets.values())
    if total <= 0:
        return None
    for bound in sorted(buckets):
        if buckets[bound] >= q * total:
            return bound
    return None


def summarise_metrics(texts: list[str]) -> dict[str, Any]:
    """Figures from Prometheus exposition texts (pure; several processes are added up)."""
    sums: defaultdict[tuple[str, tuple[tuple[str, str], ...]], float] = defaultdict(float)
    for text in texts:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name.endswith("_created"):
                    continue
                key = (sample.name, tuple(sorted(sample.labels.items())))
                sums[key] += sample.value

    def by(name: str, label: str) -> dict[str, float]:
        found: defaultdict[str, float] = defaultdict(float)
        for (sample, labels), value in sums.items():
            if sample == name:
                found[dict(labels).get(label, "")] += value
        return dict(found)

    def total(name: str) -> float:
        return sum(v for (sample, _), v in sums.items() if sample == name)

    def buckets(name: str, **match: str) -> dict[float, float]:
        found: defaultdict[float, float] = defaultdict(float)
        for (sample, labels), value in sums.items():
            tags = dict(labels)
            if sample == f"{name}_bucket" and all(tags.get(k) == v for k, v in match.items()):
                found[float(tags["le"])] += value
        return dict(found)

    queues: dict[str, dict[str, Any]] = {}
    waits_sum, waits_count = (
        by("ivr_queue_wait_seconds_sum", "queue"),
        by("ivr_queue_wait_seconds_count", "queue"),
    )
    answered, abandoned = (
        by("ivr_queue_answered_total", "queue"),
        by("ivr_queue_abandoned_total", "queue"),
    )
    timeouts = by("ivr_queue_timeouts_total", "queue")
    for queue in sorted(set(waits_count) | set(answered) | set(abandoned) | set(timeouts)):
        count = waits_count.get(queue, 0.0)
        queues[queue] = {
            "answered": answered.get(queue, 0.0),
            "abandoned": abandoned.get(queue, 0.0),
            "timed_out": timeouts.get(queue, 0.0),
            "wait_mean_s": (waits_sum.get(queue, 0.0) / count) if count else None,
            "wait_p90_s": _quantile(buckets("ivr_queue_wait_seconds", queue=queue), 0.9),
        }
    return {
        "calls_active": total("ivr_calls_active"),
        "calls_total": total("ivr_calls_total"),
        "gate_decisions": by("ivr_gate_decisions_total", "reason"),
        "bot_latency_p95_s": _quantile(buckets("ivr_bot_latency_seconds"), 0.95),
        "asr_latency_p95_s": _quantile(buckets("ivr_asr_latency_seconds"), 0.95),
        "queues": queues,
        "qa_hits": total("ivr_qa_live_alerts_total"),
        "evidence_appends": total("ivr_evidence_appends_total"),
        "evidence_failures": total("ivr_evidence_failures_total"),
        "errors": by("ivr_errors_total", "component"),
    }


def _scrape(port: int) -> str | None:
    url = f"http://127.0.0.1:{port}/metrics"
    with (
        contextlib.suppress(OSError, ValueError),
        urllib.request.urlopen(url, timeout=2) as answer,
    ):
        body: bytes = answer.read()
        return body.decode()
    return None


def floor_figures(floor: FloorRuntime, now: datetime, metrics_port: int | None) -> dict[str, Any]:
    texts = [generate_latest(REGISTRY).decode()]
    scraped = _scrape(metrics_port) if metrics_port else None
    if scraped:
        texts.append(scraped)
    desks = Counter(d.status.value for d in floor.desk.desks())
    tickets = Counter(t.kind for t in floor.work_tickets.search(status="open"))
    items = floor.callbacks.items()
    dead = len(floor.outbox.deliveries("dead")) if floor.outbox is not None else 0
    return {
        "desks": dict(desks),
        "open_tickets": dict(tickets),
        "callbacks_waiting": len(items),
        "callbacks_overdue": sum(1 for i in items if i.overdue(now)),
        "dead_letters": dead,
        "call_process_scraped": scraped is not None,
        "metrics": summarise_metrics(texts),
    }
