"""Agent desks: sign in and out, ready, break, wrap-up; each change drives mod_callcenter.

:class:`AgentDesk` keeps every desk (mod_callcenter agent name, console user, team, status)
in SQL and its history in ``agent_status_log``. A change is planned by
:func:`agents.model.plan_change`, sent to the switch (``callcenter_config agent set ...``,
each reply checked), and only then stored: when the switch refuses or cannot be reached the
desk keeps its status and the caller gets :class:`SwitchRefusedError` /
``DependencyUnavailableError``. The switch's bridge events (:class:`agents.switch.BridgeEvent`)
move a desk to ``on_call`` and, at the end, ``wrap_up``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from agents.model import AgentAction, AgentChange, AgentStatus, config_arg, plan_change
from agents.ports import CallCenterControl
from agents.switch import BridgeEvent
from agents.tables import agent_desks, agent_status_log
from ivr.errors import IvrError, StoreUnavailableError

TEAMS = ("senior", "general")
# the tiers a new desk gets: senior agents also take general callers at a lower level
TEAM_TIERS: dict[str, tuple[tuple[str, int], ...]] = {
    "senior": (("senior@default", 1), ("general@default", 2)),
    "general": (("general@default", 1),),
}


class DeskNotFoundError(IvrError):
    """No desk for that agent or user."""


class SwitchRefusedError(IvrError):
    """mod_callcenter answered a command with ``-ERR``."""


@dataclass(frozen=True, slots=True)
class Desk:
    agent: str
    username: str
    team: str
    status: AgentStatus
    call_id: str | None
    since: datetime


def _utc_now() -> datetime:
    return datetime.now(UTC)


class AgentDesk:
    """The desks (SQL) and their mod_callcenter agents (through ``control``)."""

    def __init__(
        self,
        engine: Engine,
        control: CallCenterControl,
        *,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._engine = engine
        self._control = control
        self._clock = clock
        self._lock = asyncio.Lock()

    # -- queries ----------------------------------------------------------------------------

    def desks(self) -> list[Desk]:
        return [_desk(r) for r in self._rows(agent_desks.select().order_by(agent_desks.c.agent))]

    def desk(self, agent: str) -> Desk:
        rows = self._rows(agent_desks.select().where(agent_desks.c.agent == agent))
        if not rows:
            raise DeskNotFoundError(
                f"no desk {agent}", code="agents.no_desk", params={"agent": agent}
            )
        return _desk(rows[0])

    def desk_of(self, username: str) -> Desk:
        rows = self._rows(agent_desks.select().where(agent_desks.c.username == username))
        if not rows:
            raise DeskNotFoundError(
                f"user {username} has no agent desk",
                code="agents.user_without_desk",
                params={"user": username},
            )
        return _desk(rows[0])

    def history(self, agent: str, limit: int = 50) -> list[dict[str, Any]]:
        stmt = (
            agent_status_log.select()
            .where(agent_status_log.c.agent == agent)
            .order_by(agent_status_log.c.id.desc())
            .limit(limit)
        )
        return [dict(r._mapping) for r in self._rows(stmt)]

    # -- changes ----------------------------------------------------------------------------

    async def register(self, agent: str, username: str, team: str, contact: str) -> Desk:
        """A desk for ``username`` as mod_callcenter agent ``agent`` (added with its tiers when
        the switch does not know it yet), logged out."""
        if team not in TEAMS:
            raise ValueError(f"team must be one of {', '.join(TEAMS)}")
        await self._send(f"agent add {agent} callback", tolerate="already exist")
        await self._send(f"agent set contact {agent} {contact}")
        for queue, level in TEAM_TIERS[team]:
            await self._send(f"tier add {queue} {agent} {level} 1", tolerate="already exist")
        await self._send(config_arg(agent, "status", "Logged Out"))
        return await asyncio.to_thread(self.bind, agent, username, team)

    def bind(self, agent: str, username: str, team: str) -> Desk:
        """The desk row alone (the switch already knows ``agent``), logged out."""
        if team not in TEAMS:
            raise ValueError(f"team must be one of {', '.join(TEAMS)}")
        desk = Desk(agent, username, team, AgentStatus.LOGGED_OUT, None, self._clock())
        self._insert(desk)
        return desk

    async def act(self, agent: str, action: AgentAction, *, actor: str) -> AgentChange:
        """Apply ``action`` (raises ``AgentTransitionError``, ``SwitchRefusedError``,
        ``DependencyUnavailableError``, ``DeskNotFoundError``)."""
        async with self._lock:
            desk = await asyncio.to_thread(self.desk, agent)
            change = plan_change(desk.status, action)
            for key, value in change.commands:
                await self._send(config_arg(agent, key, value))
            call_id = desk.call_id if change.after is not AgentStatus.READY else None
            await asyncio.to_thread(self._store, desk, change, actor, call_id)
            return change

    async def on_bridge(self, event: BridgeEvent) -> AgentChange | None:
        """The switch bridged (or unbridged) one of our desks; None for an agent we do not know."""
        async with self._lock:
            try:
                desk = await asyncio.to_thread(self.desk, event.agent)
            except DeskNotFoundError:
                return None
            action = AgentAction.CALL_STARTED if event.started else AgentAction.CALL_ENDED
            if not event.started and desk.status is not AgentStatus.ON_CALL:
                return None
            change = plan_change(desk.status, action)
            for key, value in change.commands:
                await self._send(config_arg(event.agent, key, value))
            await asyncio.to_thread(self._store, desk, change, "switch", event.call_id)
            return change

    async def _send(self, arg: str, *, tolerate: str | None = None) -> str:
        reply = await self._control.callcenter_config(arg)
        if reply.startswith("-ERR") and not (tolerate and tolerate in reply):
            raise SwitchRefusedError(
                f"mod_callcenter refused {arg.split(' ', 3)[:3]}: {reply}",
                code="agents.switch_refused",
                params={"command": " ".join(arg.split(" ", 3)[:3]), "reply": reply.strip()},
            )
        return reply

    # -- SQL --------------------------------------------------------------------------------

    def _insert(self, desk: Desk) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    agent_desks.insert().values(
                        agent=desk.agent,
                        username=desk.username,
                        team=desk.team,
                        status=desk.status.value,
                        call_id=None,
                        since=desk.since,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("agent desk store failed") from exc

    def _store(self, desk: Desk, change: AgentChange, actor: str, call_id: str | None) -> None:
        now = self._clock()
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    agent_desks.update()
                    .where(agent_desks.c.agent == desk.agent)
                    .values(status=change.after.value, call_id=call_id, since=now)
                )
                conn.execute(
                    agent_status_log.insert().values(
                        agent=desk.agent,
                        before=change.before.value,
                        after=change.after.value,
                        action=change.action.value,
                        actor=actor,
                        call_id=call_id,
                        at=now,
                    )
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("agent desk store failed") from exc

    def _rows(self, stmt: sa.Select[Any]) -> list[sa.Row[Any]]:
        try:
            with self._engine.connect() as conn:
                return list(conn.execute(stmt).all())
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("agent desk store failed") from exc


def _desk(row: sa.Row[Any]) -> Desk:
    since = row.since if row.since.tzinfo else row.since.replace(tzinfo=UTC)
    return Desk(row.agent, row.username, row.team, AgentStatus(row.status), row.call_id, since)
