"""``/api/v1/agents``: agent desks (sign in and out, ready, break, wrap-up: each change drives
mod_callcenter), the signed-in agent's screen pops (JSON and a live SSE feed) and the audited
unmasking of a screen pop's number (``/api/v1/screen-pops/{call_id}/unmask``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from agents.desk import Desk, DeskNotFoundError, SwitchRefusedError
from agents.model import AgentAction, AgentTransitionError
from agents.screenpop import NoScreenPopError
from console.api.deps import context, require
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.identity import Principal
from console.permissions import Permission
from ivr.errors import DependencyUnavailableError

router = APIRouter(prefix="/api/v1", responses=PROBLEM_RESPONSES)
ActionName = Literal["login", "ready", "break", "wrap_up", "logout"]


class DeskOut(BaseModel):
    agent: str
    username: str
    team: str
    status: str
    call_id: str | None
    since: datetime


class DeskIn(BaseModel):
    agent: str = Field(pattern=r"^[A-Za-z0-9_.-]+@[A-Za-z0-9_.-]+$", max_length=128)
    username: str = Field(min_length=1, max_length=64)
    team: Literal["senior", "general"]
    contact: str = Field(pattern=r"^[A-Za-z0-9_.=/@:\[\]-]+$", max_length=200)


class ChangeOut(BaseModel):
    before: str
    after: str
    desk: DeskOut


class PopsOut(BaseModel):
    live: bool
    current: dict[str, Any] | None
    pops: list[dict[str, Any]]
    last_id: str


class UnmaskIn(BaseModel):
    reason: str = Field(min_length=1, max_length=500)


class UnmaskOut(BaseModel):
    call_id: str
    number: str


def _out(desk: Desk) -> DeskOut:
    return DeskOut(
        agent=desk.agent,
        username=desk.username,
        team=desk.team,
        status=desk.status.value,
        call_id=desk.call_id,
        since=desk.since,
    )


def _switch_problem(exc: DependencyUnavailableError | SwitchRefusedError) -> ApiProblem:
    if isinstance(exc, DependencyUnavailableError):
        return ApiProblem(503, "switch_unavailable", str(exc), code=exc.code, params=exc.params)
    return ApiProblem(502, "switch_refused", str(exc), code=exc.code, params=exc.params)


def _my_desk(request: Request, principal: Principal) -> Desk:
    try:
        return context(request).floor.desk.desk_of(principal.username)
    except DeskNotFoundError as exc:
        raise ApiProblem(404, "not_found", str(exc), code=exc.code, params=exc.params) from exc


@router.get("/agents", tags=["agents"])
def list_desks(request: Request, _: Principal = require(Permission.AGENTS_READ)) -> list[DeskOut]:
    return [_out(d) for d in context(request).floor.desk.desks()]


@router.post("/agents", tags=["agents"], status_code=201)
async def add_desk(
    body: DeskIn, request: Request, _: Principal = require(Permission.AGENTS_MANAGE)
) -> DeskOut:
    """Bind a user to a mod_callcenter agent (added with its team's tiers if the switch does
    not know it), logged out."""
    desk = context(request).floor.desk
    try:
        await asyncio.to_thread(desk.desk_of, body.username)
    except DeskNotFoundError:
        pass
    else:
        raise ApiProblem(
            409,
            "conflict",
            f"{body.username} already has a desk",
            code="agents.desk_exists",
            params={"user": body.username},
        )
    try:
        return _out(await desk.register(body.agent, body.username, body.team, body.contact))
    except (DependencyUnavailableError, SwitchRefusedError) as exc:
        raise _switch_problem(exc) from exc


@router.get("/agents/me", tags=["agents"])
def my_desk(request: Request, principal: Principal = require(Permission.AGENT_DESK)) -> DeskOut:
    return _out(_my_desk(request, principal))


@router.post("/agents/me/{action}", tags=["agents"])
async def change_status(
    action: ActionName, request: Request, principal: Principal = require(Permission.AGENT_DESK)
) -> ChangeOut:
    """Sign in, ready, break, wrap-up or sign out; mod_callcenter is told first."""
    floor = context(request).floor
    mine = await asyncio.to_thread(_my_desk, request, principal)
    try:
        change = await floor.desk.act(mine.agent, AgentAction(action), actor=principal.username)
    except AgentTransitionError as exc:
        raise ApiProblem(409, "conflict", str(exc), code=exc.code, params=exc.params) from exc
    except (DependencyUnavailableError, SwitchRefusedError) as exc:
        raise _switch_problem(exc) from exc
    desk = await asyncio.to_thread(floor.desk.desk, mine.agent)
    return ChangeOut(before=change.before.value, after=change.after.value, desk=_out(desk))


@router.get("/agents/me/pops", tags=["agents"])
async def my_pops(
    request: Request,
    after: str = "0",
    principal: Principal = require(Permission.AGENT_DESK),
) -> PopsOut:
    """The call on the agent's line now (``current``) and the live pops after ``after``."""
    floor = context(request).floor
    mine = await asyncio.to_thread(_my_desk, request, principal)
    current = await asyncio.to_thread(floor.pops.current, mine.agent)
    pops = await floor.pops.read(mine.agent, after)
    return PopsOut(
        live=floor.pops.live,
        current=current.as_json() if current else None,
        pops=[p for _, p in pops],
        last_id=pops[-1][0] if pops else after,
    )


@router.get("/agents/me/pops/stream", tags=["agents"])
async def my_pops_stream(
    request: Request, principal: Principal = require(Permission.AGENT_DESK)
) -> StreamingResponse:
    """Server-sent events: one ``pop`` event per call that reaches the agent (Redis), else a
    ``poll`` event telling the page to poll ``/agents/me/pops``."""
    floor = context(request).floor
    mine = await asyncio.to_thread(_my_desk, request, principal)

    async def events() -> AsyncIterator[bytes]:
        if not floor.pops.live:
            yield b"event: poll\ndata: {}\n\n"
            return
        last = "$"
        while not await request.is_disconnected():
            for entry_id, pop in await floor.pops.read(mine.agent, last, block_ms=15000):
                last = entry_id
                data = json.dumps(pop, ensure_ascii=False)
                yield f"id: {entry_id}\nevent: pop\ndata: {data}\n\n".encode()
            yield b": keep-alive\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


@router.post("/screen-pops/{call_id}/unmask", tags=["agents"])
async def unmask(
    call_id: str,
    body: UnmaskIn,
    request: Request,
    principal: Principal = require(Permission.CALLER_UNMASK),
) -> UnmaskOut:
    """The caller's clear number, for a reason; ``number_revealed`` evidence first."""
    ctx = context(request)
    try:
        number = await ctx.floor.pops.unmask(
            call_id,
            actor=principal.username,
            role=principal.role.value,
            reason=body.reason,
            at=ctx.auth.clock(),
        )
    except NoScreenPopError as exc:
        raise ApiProblem(404, "not_found", str(exc), code=exc.code, params=exc.params) from exc
    await asyncio.to_thread(
        ctx.audit.customer_data_read,
        principal,
        "screen_pop_number",
        action="reveal_numbers",
        call_id=call_id,
        reason=body.reason,
    )
    return UnmaskOut(call_id=call_id, number=number.e164)
