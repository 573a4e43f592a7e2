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


def test_an_unreadable_yaml_document_is_the_clients_problem_not_a_server_error() -> None:
    import yaml
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from console.api.problems import install

    app = FastAPI()
    install(app)

    @app.get("/doc")
    def doc() -> None:
        yaml.safe_load("a: \x88")  # PyYAML's ReaderError: a control character

    response = TestClient(app).get("/doc")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "a YAML document could not be read"
