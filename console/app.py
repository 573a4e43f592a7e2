"""The web console and JSON API (FastAPI). ``/healthz`` for probes; the API lives under /api/v1."""

from __future__ import annotations

from fastapi import FastAPI

from ivr import __version__

app = FastAPI(
    title="Compliance voice bot console",
    version=__version__,
    openapi_url="/api/v1/openapi.json",
    docs_url="/docs",
)


@app.get("/healthz", tags=["ops"])
def healthz() -> dict[str, str]:
    """Liveness probe."""
    return {"status": "ok", "version": __version__}
