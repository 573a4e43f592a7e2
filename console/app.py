"""The web console and JSON API (FastAPI): ``create_app(ctx)`` from a built context, and
``build_app()``, the factory ``make run`` starts (``uvicorn --factory console.app:build_app``).

``/healthz`` for probes, ``/metrics`` for Prometheus (:mod:`ivr.metrics`); the API lives
under ``/api/v1`` (OpenAPI at ``/api/v1/openapi.json``,
docs at ``/docs``); the built front end (``console/web/dist``) is served at ``/``.
``/api/v1/demo/crm/risk`` is a stand-in CRM risk service so the shipped ``inbound_service``
flow's webhook works out of the box with ``make run``; production points the flow at the real CRM.
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from fastapi.staticfiles import StaticFiles
from prometheus_client import make_asgi_app
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from compliance.health import rules_health
from compliance.watch_status import board_for
from console.api import (
    agents_routes,
    auth_routes,
    campaigns_routes,
    changes_routes,
    compliance_routes,
    dashboard_routes,
    floor_routes,
    flows_routes,
    problems,
    prompts_routes,
    qa_routes,
    recordings_routes,
    rules_routes,
    users_routes,
)
from console.api.campaigns_routes import MAX_UPLOAD_BYTES
from console.api.problems import problem_response
from console.context import ConsoleContext, build_context
from ivr import __version__
from ivr.metrics import count_errors
from ivr.settings import get_settings

log = logging.getLogger(__name__)

WEB_DIST = Path(__file__).resolve().parent / "web" / "dist"


class RiskQuery(BaseModel):
    call_id: str = ""
    caller_index: str = ""


class RiskAnswer(BaseModel):
    risk_level: str


# Routes that take a file have their own larger limit (the route checks the file itself; the
# margin is the multipart envelope around it).
UPLOAD_LIMITS = ((re.compile(r"/api/v1/campaigns/[^/]+/import"), MAX_UPLOAD_BYTES + 2**16),)


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes with 413, declared or streamed (a file upload
    route: its own limit from ``uploads``)."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        uploads: tuple[tuple[re.Pattern[str], int], ...] = UPLOAD_LIMITS,
    ) -> None:
        self.app = app
        self.default = limit
        self.uploads = uploads

    def _limit(self, path: str) -> int:
        return next((n for route, n in self.uploads if route.fullmatch(path)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._too_large(limit, scope, receive, send)
            return
        seen = 0
        refused = False

        async def limited() -> Message:
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    refused = True
                    await self._too_large(limit, scope, receive, send)
                    return {"type": "http.disconnect"}  # the app stops reading
            return message

        async def guarded_send(message: Message) -> None:
            if not refused:  # after the 413, whatever the app says is dropped
                await send(message)

        await self.app(scope, limited, guarded_send)

    @staticmethod
    async def _too_large(limit: int, scope: Scope, receive: Receive, send: Send) -> None:
        response = problem_response(
            413,
            "too_large",
            f"request bodies are limited to {limit} bytes",
            code="console.body_too_large",
            params={"limit": limit},
        )
        await response(scope, receive, send)


def create_app(ctx: ConsoleContext) -> FastAPI:
    running = 0  # nested lifespans of one app (test clients) start the service once

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        nonlocal running
        running += 1
        if running == 1:
            await ctx.compliance.start(watch=True)  # the rules watcher, the decision-log writer
            ctx.qa.runtime.watcher.start()  # QA rules hot reload for batch jobs
            await ctx.floor.start()  # the switch follower, webhook delivery, overdue callbacks
        try:
            yield
        finally:
            running -= 1
            if running == 0:
                await ctx.qa.stop()
                await ctx.qa.runtime.watcher.stop()
                await ctx.floor.close()
                await ctx.compliance.close()

    app = FastAPI(
        lifespan=lifespan,
        title="Compliance voice bot console",
        version=__version__,
        openapi_url="/api/v1/openapi.json",
        docs_url="/docs",
    )
    app.state.ctx = ctx
    problems.install(app)
    app.add_middleware(BodyLimit, limit=ctx.settings.console_max_body_bytes)

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, object]:
        """Liveness probe; ``rules`` shows the rules file and this host's rules watchers (a
        rejected file or a stale watcher makes it ``degraded``; the console stays ``ok``)."""
        settings = ctx.settings
        board = board_for(settings.data_dir)
        rules = rules_health(settings.rules_path, board, datetime.now(UTC))
        return {"status": "ok", "version": __version__, "rules": rules.as_dict()}

    @app.post("/api/v1/demo/crm/risk", tags=["demo"])
    def demo_crm_risk(query: RiskQuery) -> RiskAnswer:
        """Demo CRM: every caller is low risk (the real CRM decides in production)."""
        return RiskAnswer(risk_level="low")

    for router in (
        auth_routes.router,
        users_routes.router,
        flows_routes.router,
        prompts_routes.router,
        changes_routes.router,
        recordings_routes.router,
        dashboard_routes.router,
        rules_routes.router,
        compliance_routes.router,
        qa_routes.router,
        agents_routes.router,
        floor_routes.router,
        campaigns_routes.router,
    ):
        app.include_router(router)
    count_errors()
    app.mount("/metrics", make_asgi_app())  # Prometheus (ivr.metrics); scraped inside the network
    if (WEB_DIST / "index.html").exists():
        app.mount("/", StaticFiles(directory=WEB_DIST, html=True), name="web")
    else:

        @app.get("/", include_in_schema=False)
        def no_front_end() -> PlainTextResponse:
            return PlainTextResponse(
                "the console's front end is not built: run scripts/setup.sh (make run does)", 503
            )

    return app


def build_app() -> FastAPI:
    """The production app from ``IVR_*`` settings; creates the first admin if there is none."""
    ctx = build_context(get_settings())
    created = ctx.auth.ensure_first_admin(
        ctx.settings.console_admin_password.get_secret_value()
        if ctx.settings.console_admin_password
        else None
    )
    if created is not None:
        user, password = created
        shown = "(IVR_CONSOLE_ADMIN_PASSWORD)" if ctx.settings.console_admin_password else password
        sys.stderr.write(f"[console] first admin created: user {user.username} password {shown}\n")
    return create_app(ctx)
