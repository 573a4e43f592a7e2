"""The console answers its health probe and serves its OpenAPI document under /api/v1."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_healthz_and_openapi(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    spec = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/demo/crm/risk" in spec["paths"]


def test_demo_crm_risk_answers_a_level(client: TestClient) -> None:
    answer = client.post("/api/v1/demo/crm/risk", json={"call_id": "c1", "caller_index": "ab"})
    assert answer.json() == {"risk_level": "low"}
