"""Screen pops: what the agent sees, live, when a call reaches them.

At hand-off (:meth:`ScreenPops.handed_off`, the orchestrator's floor hook) the call's context is
stored in ``call_handoffs``: why it came (queue, reason, intent, complaint / high-risk flags),
the conversation so far, the consent state, the number masked and sealed
(:mod:`records.sealed_number`, never in clear). When mod_callcenter bridges the call to an
agent (:meth:`ScreenPops.reached_agent`) the hand-off is marked with the agent and, with Redis,
the pop is pushed onto the agent's stream ``<prefix>:agent:<agent>:pops`` (XADD, capped) that
the agent page follows live (SSE); without Redis the page reads :meth:`ScreenPops.current`.
:meth:`ScreenPops.unmask` gives the clear number after ``number_revealed`` evidence naming the
actor, their role and a reason; the console decides who may ask.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from agents.tables import call_handoffs
from flows.ports import Handoff
from ivr.errors import IvrError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.phone import CustomerNumber
from records.sealed_number import NumberSealer, SealedNumber

POPS_MAXLEN = 200
COMPLAINT_INTENTS = frozenset({"complaint"})
RISK_INTENTS = frozenset({"high_risk"})


class NoScreenPopError(IvrError):
    """No hand-off is known for that call (never handed to a human)."""


def flags_for(queue: str, reason: str, intent: str | None) -> tuple[str, ...]:
    """``complaint`` / ``high_risk`` flags of a hand-off (pure): from the intent NLU read, else
    from the transfer's reason."""
    flags: list[str] = []
    text = reason.lower()
    if intent in COMPLAINT_INTENTS or (intent is None and "complaint" in text):
        flags.append("complaint")
    if intent in RISK_INTENTS or (intent is None and "risk" in text) or "fraud" in text:
        flags.append("high_risk")
    if not flags and queue == "senior" and "complaint_or_high_risk" in text:
        flags.append("complaint")
    return tuple(flags)


@dataclass(frozen=True, slots=True)
class ScreenPop:
    call_id: str
    agent: str | None
    queue: str
    priority: int
    reason: str
    intent: str | None
    flags: tuple[str, ...]
    consent_state: str | None
    masked_number: str | None
    conversation: tuple[tuple[str, str], ...]
    flow: str
    path: tuple[str, ...]
    handed_off_at: str

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["conversation"] = [{"who": w, "text": t} for w, t in self.conversation]
        data["flags"] = list(self.flags)
        data["path"] = list(self.path)
        return data


def _context(call_id: str) -> str:
    return f"handoff|{call_id}"


class ScreenPops:
    """Hand-offs in SQL, agents' live pop streams in Redis (optional), audited unmasking."""

    def __init__(
        self,
        engine: Engine,
        numbers: NumberSealer,
        evidence: EvidenceSink,
        *,
        redis: Redis | None = None,
        prefix: str = "ivr",
    ) -> None:
        self._engine = engine
        self._numbers = numbers
        self._evidence = evidence
        self._redis = redis
        self._prefix = prefix

    @property
    def live(self) -> bool:
        """Pops are pushed (Redis); else the page polls :meth:`current`."""
        return self._redis is not None

    def stream(self, agent: str) -> str:
        return f"{self._prefix}:agent:{agent}:pops"

    async def handed_off(self, handoff: Handoff) -> None:
        """Keep the call's context for the agent who will take it."""
        await asyncio.to_thread(self.store, handoff)

    def store(self, handoff: Handoff) -> None:
        values: dict[str, Any] = {
            "call_id": handoff.call_id,
            "queue": handoff.queue,
            "priority": handoff.priority,
            "reason": handoff.reason[:64],
            "intent": handoff.intent,
            "flags": ",".join(flags_for(handoff.queue, handoff.reason, handoff.intent)),
            "consent_state": handoff.consent_state,
            "conversation": json.dumps(
                [list(turn) for turn in handoff.conversation[-40:]], ensure_ascii=False
            ),
            "flow": handoff.flow,
            "path": " > ".join(handoff.path),
            "handed_off_at": handoff.at,
        }
        if handoff.customer is not None:
            sealed = self._numbers.seal(handoff.customer, _context(handoff.call_id))
            values.update(
                customer_bi=sealed.blind_index,
                masked_number=sealed.masked,
                key_id=sealed.key_id,
                wrapped_key=sealed.wrapped_key,
                number_sealed=sealed.ciphertext,
            )
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    call_handoffs.delete().where(call_handoffs.c.call_id == handoff.call_id)
                )
                conn.execute(call_handoffs.insert().values(**values))
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("hand-off store failed") from exc

    def _row(self, call_id: str) -> sa.Row[Any]:
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    call_handoffs.select().where(call_handoffs.c.call_id == call_id)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("hand-off store failed") from exc
        if row is None:
            raise NoScreenPopError(
                f"no hand-off for call {call_id}",
                code="agents.no_handoff",
                params={"call_id": call_id},
            )
        return row

    def pop(self, call_id: str) -> ScreenPop:
        """The pop of a handed-off call (``NoScreenPopError`` otherwise)."""
        return _pop(self._row(call_id))

    def current(self, agent: str) -> ScreenPop | None:
        """The latest call bridged to ``agent``, if any."""
        try:
            with self._engine.connect() as conn:
                row = conn.execute(
                    call_handoffs.select()
                    .where(call_handoffs.c.agent == agent)
                    .order_by(call_handoffs.c.handed_off_at.desc())
                    .limit(1)
                ).first()
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("hand-off store failed") from exc
        return _pop(row) if row is not None else None

    async def reached_agent(self, agent: str, call_id: str) -> ScreenPop | None:
        """The call was bridged to ``agent``: mark it and push its pop (None when the call has
        no hand-off, e.g. a caller the app did not put in the queue)."""
        try:
            pop = await asyncio.to_thread(self.assign, agent, call_id)
        except NoScreenPopError:
            return None
        if self._redis is not None:
            try:
                await self._redis.xadd(
                    self.stream(agent),
                    {"pop": json.dumps(pop.as_json(), ensure_ascii=False)},
                    maxlen=POPS_MAXLEN,
                    approximate=True,
                )
            except RedisError as exc:
                raise StoreUnavailableError("screen pop stream failed") from exc
        return pop

    def assign(self, agent: str, call_id: str) -> ScreenPop:
        """Mark the hand-off as bridged to ``agent``; its pop."""
        self._row(call_id)
        try:
            with self._engine.begin() as conn:
                conn.execute(
                    call_handoffs.update()
                    .where(call_handoffs.c.call_id == call_id)
                    .values(agent=agent)
                )
        except SQLAlchemyError as exc:
            raise StoreUnavailableError("hand-off store failed") from exc
        return self.pop(call_id)

    async def read(
        self, agent: str, after: str = "0", block_ms: int | None = None, count: int = 20
    ) -> list[tuple[str, dict[str, Any]]]:
        """Live pops on ``agent``'s stream after id ``after`` (``$`` = only new ones), waiting
        up to ``block_ms`` for one; ``[]`` without Redis."""
        if self._redis is None:
            return []
        try:
            answer: Any = await self._redis.xread(
                {self.stream(agent): after}, count=count, block=block_ms
            )
        except RedisError as exc:
            raise StoreUnavailableError("screen pop stream failed") from exc
        found: list[tuple[str, dict[str, Any]]] = []
        for _, entries in answer or []:
            for entry_id, fields in entries:
                key = entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
                raw = fields.get(b"pop") or fields.get("pop")
                if raw is not None:
                    found.append((key, json.loads(raw)))
        return found

    async def unmask(
        self, call_id: str, *, actor: str, role: str, reason: str, at: datetime
    ) -> CustomerNumber:
        """The caller's clear number, after ``number_revealed`` evidence (the caller of this
        method has checked the actor's permission)."""
        row = await asyncio.to_thread(self._row, call_id)
        has_number = row.number_sealed is not None
        allowed = has_number and bool(reason.strip())
        await self._evidence.append(
            EvidenceKind.NUMBER_REVEALED,
            call_id=call_id,
            payload={
                "subject": "screen_pop",
                "number": row.masked_number,
                "actor": actor,
                "role": role,
                "reason": reason[:500],
                "allowed": allowed,
                "at": at.isoformat(),
            },
        )
        if not has_number:
            raise NoScreenPopError(
                f"call {call_id} has no number to show",
                code="agents.no_number",
                params={"call_id": call_id},
            )
        if not allowed:
            raise ValueError("a reason is required to see the caller's number")
        sealed = SealedNumber(
            blind_index=row.customer_bi,
            masked=row.masked_number,
            key_id=row.key_id,
            wrapped_key=row.wrapped_key,
            ciphertext=row.number_sealed,
        )
        return self._numbers.unseal(sealed, _context(call_id))


def _pop(row: sa.Row[Any]) -> ScreenPop:
    at = row.handed_off_at if row.handed_off_at.tzinfo else row.handed_off_at.replace(tzinfo=UTC)
    return ScreenPop(
        call_id=row.call_id,
        agent=row.agent,
        queue=row.queue,
        priority=row.priority,
        reason=row.reason,
        intent=row.intent,
        flags=tuple(f for f in row.flags.split(",") if f),
        consent_state=row.consent_state,
        masked_number=row.masked_number,
        conversation=tuple((str(w), str(t)) for w, t in json.loads(row.conversation)),
        flow=row.flow,
        path=tuple(p for p in row.path.split(" > ") if p),
        handed_off_at=at.isoformat(),
    )
