"""The Prometheus metrics every service exports (prometheus-client, the default registry).

One definition per metric, here, so the alerting rules (``ops/prometheus/alerts.yml``), the
Grafana dashboard (``ops/grafana/ivr.json``) and the console dashboard read the same names.
Labels never hold customer data (no numbers, no words): queues, reasons, kinds, components.
:func:`count_errors` adds a logging handler that counts ``ERROR`` records per component, so
every logged failure is a metric too. ``/metrics`` is served by the console app and, for the
call and action processes, by :func:`serve_metrics` on ``IVR_METRICS_PORT``.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

LATENCY_BUCKETS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0)
WAIT_BUCKETS = (5.0, 10.0, 20.0, 30.0, 60.0, 90.0, 120.0, 180.0, 300.0, 600.0)

CALLS_ACTIVE = Gauge("ivr_calls_active", "calls the orchestrator is running now")
CALLS_TOTAL = Counter("ivr_calls_total", "calls the orchestrator ran", ["direction"])
GATE_DECISIONS = Counter(
    "ivr_gate_decisions_total",
    "dial-time gate decisions by outcome and reason",
    ["allowed", "reason"],
)
BOT_LATENCY = Histogram(
    "ivr_bot_latency_seconds",
    "Rasa round trip of one caller turn (stage nlu: /model/parse, dialogue: the bot's reply)",
    ["stage"],
    buckets=LATENCY_BUCKETS,
)
ASR_LATENCY = Histogram(
    "ivr_asr_latency_seconds", "speech recognition of one caller turn", buckets=LATENCY_BUCKETS
)
QUEUE_WAIT = Histogram(
    "ivr_queue_wait_seconds",
    "time a caller waited in a mod_callcenter queue before an agent answered",
    ["queue"],
    buckets=WAIT_BUCKETS,
)
QUEUE_ANSWERED = Counter("ivr_queue_answered_total", "queued callers an agent answered", ["queue"])
QUEUE_ABANDONED = Counter(
    "ivr_queue_abandoned_total", "queued callers who left before an agent answered", ["queue"]
)
QUEUE_TIMEOUTS = Counter(
    "ivr_queue_timeouts_total", "queued callers sent to a callback ticket", ["queue", "reason"]
)
EVIDENCE_APPENDS = Counter("ivr_evidence_appends_total", "evidence entries chained", ["kind"])
EVIDENCE_FAILURES = Counter(
    "ivr_evidence_failures_total", "evidence appends or chain verifications that failed", ["what"]
)
SPOOL_ITEMS = Gauge("ivr_spool_items", "writes waiting in the outage spool for the database")
SPOOL_OLDEST_AGE = Gauge(
    "ivr_spool_oldest_age_seconds", "age of the oldest write waiting in the outage spool"
)
SPOOL_WRITES = Counter(
    "ivr_spool_writes_total", "writes the database could not take, spooled", ["kind"]
)
SPOOL_REPLAYED = Counter("ivr_spool_replayed_total", "spooled writes replayed", ["kind"])
WORK_TICKETS = Counter("ivr_work_tickets_total", "work tickets the system wrote", ["kind"])
WEBHOOKS = Counter("ivr_webhooks_total", "outbound webhook attempts", ["target", "outcome"])
CALLBACKS_OVERDUE = Gauge("ivr_callbacks_overdue", "callback tickets past their due time")
CALLBACK_OVERDUE_ALERTS = Counter(
    "ivr_callbacks_overdue_alerts_total", "overdue callback tickets alerted (once each)", ["queue"]
)
ERRORS = Counter("ivr_errors_total", "errors logged, by component", ["component"])


class _ErrorCounter(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        ERRORS.labels(component=record.name.split(".", 1)[0]).inc()


_installed: list[logging.Handler] = []


def count_errors() -> None:
    """Count every ``ERROR`` (and worse) log record in ``ivr_errors_total`` (once per process)."""
    if _installed:
        return
    handler = _ErrorCounter(level=logging.ERROR)
    logging.getLogger().addHandler(handler)
    _installed.append(handler)


def serve_metrics(port: int, host: str = "127.0.0.1") -> None:
    """``/metrics`` on its own port (processes without a web app: calls, actions)."""
    start_http_server(port, addr=host)
    count_errors()
