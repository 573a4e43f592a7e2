"""The console answers its health probe and serves its OpenAPI document under /api/v1."""

from __future__ import annotations

from fastapi.testclient import TestClient

from console.app import app


def test_healthz_and_openapi() -> None:
    client = TestClient(app)
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/demo/crm/risk" in spec["paths"]


def test_demo_crm_risk_answers_a_level() -> None:
    client = TestClient(app)
    answer = client.post("/api/v1/demo/crm/risk", json={"call_id": "c1", "caller_index": "ab"})
    assert answer.json() == {"risk_level": "low"}
