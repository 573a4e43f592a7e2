"""The web console and JSON API (FastAPI). ``/healthz`` for probes; the API lives under /api/v1.

``/api/v1/demo/crm/risk`` is a stand-in CRM risk service so the shipped ``inbound_service`` flow's
webhook works out of the box with ``make run``; production points the flow at the real CRM.
"""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import FastAPI
from pydantic import BaseModel

from compliance.health import rules_health
from compliance.watch_status import board_for
from ivr import __version__
from ivr.settings import get_settings

app = FastAPI(
    title="Compliance voice bot console",
    version=__version__,
    openapi_url="/api/v1/openapi.json",
    docs_url="/docs",
)


class RiskQuery(BaseModel):
    call_id: str = ""
    caller_index: str = ""


class RiskAnswer(BaseModel):
    risk_level: str


@app.get("/healthz", tags=["ops"])
def healthz() -> dict[str, object]:
    """Liveness probe; ``rules`` shows the rules file and this host's rules watchers (a
    rejected file or a stale watcher makes it ``degraded``, the console itself stays ``ok``)."""
    settings = get_settings()
    rules = rules_health(settings.rules_path, board_for(settings.data_dir), datetime.now(UTC))
    return {"status": "ok", "version": __version__, "rules": rules.as_dict()}


@app.post("/api/v1/demo/crm/risk", tags=["demo"])
def demo_crm_risk(query: RiskQuery) -> RiskAnswer:
    """Demo CRM: every caller is low risk (the real CRM decides in production)."""
    return RiskAnswer(risk_level="low")
