"""The web console and JSON API (FastAPI). ``/healthz`` for probes; the API lives under /api/v1.

``/api/v1/demo/crm/risk`` is a stand-in CRM risk service so the shipped ``inbound_service`` flow's
webhook works out of the box with ``make run``; production points the flow at the real CRM.
"""

from __future__ import annotations

from fastapi import FastAPI
from pydantic import BaseModel

from ivr import __version__

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
def healthz() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok", "version": __version__}


@app.post("/api/v1/demo/crm/risk", tags=["demo"])
def demo_crm_risk(query: RiskQuery) -> RiskAnswer:
    """Demo CRM: every caller is low risk (the real CRM decides in production)."""
    return RiskAnswer(risk_level="low")
