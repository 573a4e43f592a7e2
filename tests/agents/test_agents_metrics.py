"""Metrics and alerts (issue 18, item 7): the alerting rules parse and name only metrics the
services export (``promtool check rules`` too when it is installed), the Grafana dashboard
reads the same metrics, and ``/metrics`` serves them."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml
from prometheus_client import REGISTRY, generate_latest

import ivr.metrics
import qa.alerts  # noqa: F401  (registers ivr_qa_live_alerts_total when an AlertCounter exists)
from ivr.settings import REPO_ROOT

RULES = REPO_ROOT / "ops" / "prometheus" / "alerts.yml"
DASHBOARD = REPO_ROOT / "ops" / "grafana" / "ivr.json"
NAME = re.compile(r"\b(ivr_[a-z_]+?)(?:_bucket|_sum|_count|_total|_created)?\b")
REQUIRED_ALERTS = {
    "QueueWaitHigh",
    "AbandonRateHigh",
    "GateStoreUnavailable",
    "EvidenceChainFailure",
}


def exported_families() -> set[str]:
    families = {
        getattr(ivr.metrics, name)._name
        for name in dir(ivr.metrics)
        if hasattr(getattr(ivr.metrics, name), "_name")
    }
    return families | {"ivr_qa_live_alerts"}


def metric_names(expr: str) -> set[str]:
    return {m.group(1) for m in NAME.finditer(expr)}


def test_alerting_rules_are_valid_and_read_exported_metrics() -> None:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    alerts = [rule for group in data["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in alerts} >= REQUIRED_ALERTS
    known = exported_families()
    for rule in alerts:
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "0s")), rule["alert"]
        names = metric_names(rule["expr"])
        assert names and names <= known, (rule["alert"], names - known)
        assert rule["expr"].count("(") == rule["expr"].count(")")
    promtool = shutil.which("promtool")
    if promtool is not None:
        checked = subprocess.run(
            [promtool, "check", "rules", str(RULES)], capture_output=True, text=True, check=False
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr


def test_grafana_dashboard_shows_the_exported_metrics() -> None:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    shown = set().union(*(metric_names(e) for e in exprs))
    assert shown <= exported_families()
    for wanted in (
        "ivr_calls_active",
        "ivr_gate_decisions",
        "ivr_queue_wait_seconds",
        "ivr_bot_latency_seconds",
        "ivr_asr_latency_seconds",
        "ivr_queue_abandoned",
        "ivr_evidence_appends",
        "ivr_errors",
        "ivr_qa_live_alerts",
    ):
        assert wanted in shown, wanted


def test_every_family_is_in_the_default_registry() -> None:
    text = generate_latest(REGISTRY).decode()
    for family in exported_families() - {"ivr_qa_live_alerts"}:
        assert f"# TYPE {family}" in text, family
