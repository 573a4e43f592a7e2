"""Screen pops: what the agent sees, live, when a call reaches them (Redis).

At hand-off (:meth:`ScreenPops.handed_off`, the orchestrator's floor hook) the call's context is
kept under ``<prefix>:handoff:<call_id>`` for a few hours: why it came (queue, reason, intent,
complaint / high-risk flags), the conversation so far, the consent state, the number masked and
sealed (:mod:`records.sealed_number`; never in clear). When mod_callcenter bridges the call to
an agent (:meth:`ScreenPops.reached_agent`) the pop goes onto the agent's stream
``<prefix>:agent:<agent>:pops`` (XADD, capped) that the agent page follows (SSE); the sealed
number stays behind. :meth:`ScreenPops.unmask` gives the clear number after ``number_revealed``
evidence naming the actor, their role and a reason; the console decides who may ask.
"""

from __future__ import annotations

import base64
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from flows.ports import Handoff
from ivr.errors import IvrError, StoreUnavailableError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.phone import CustomerNumber
from records.sealed_number import NumberSealer, SealedNumber

HANDOFF_TTL_S = 6 * 3600
POPS_MAXLEN = 200
COMPLAINT_INTENTS = frozenset({"complaint"})
RISK_INTENTS = frozenset({"high_risk"})


class NoScreenPopError(IvrError):
    """No hand-off is known for that call (expired, or never handed to a human)."""


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
    agent: str
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
    """Hand-offs and agents' pop streams in Redis; unmasking through the number sealer."""

    def __init__(
        self, redis: Redis, prefix: str, numbers: NumberSealer, evidence: EvidenceSink
    ) -> None:
        self._redis = redis
        self._prefix = prefix
        self._numbers = numbers
        self._evidence = evidence

    def _handoff_key(self, call_id: str) -> str:
        return f"{self._prefix}:handoff:{call_id}"

    def stream(self, agent: str) -> str:
        return f"{self._prefix}:agent:{agent}:pops"

    async def handed_off(self, handoff: Handoff) -> None:
        """Keep the call's context for the agent who will take it."""
        data: dict[str, Any] = {
            "call_id": handoff.call_id,
            "queue": handoff.queue,
            "priority": handoff.priority,
            "reason": handoff.reason,
            "intent": handoff.intent,
            "flags": list(flags_for(handoff.queue, handoff.reason, handoff.intent)),
            "consent_state": handoff.consent_state,
            "conversation": [list(turn) for turn in handoff.conversation[-40:]],
            "flow": handoff.flow,
            "path": list(handoff.path),
            "at": handoff.at.isoformat(),
            "number": None,
        }
        if handoff.customer is not None:
            sealed = self._numbers.seal(handoff.customer, _context(handoff.call_id))
            data["number"] = {
                "bi": sealed.blind_index,
                "masked": sealed.masked,
                "key_id": sealed.key_id,
                "wrapped_key": base64.b64encode(sealed.wrapped_key).decode(),
                "ciphertext": base64.b64encode(sealed.ciphertext).decode(),
            }
        try:
            await self._redis.set(
                self._handoff_key(handoff.call_id), json.dumps(data), ex=HANDOFF_TTL_S
            )
        except RedisError as exc:
            raise StoreUnavailableError("screen pop store failed") from exc

    async def _handoff(self, call_id: str) -> dict[str, Any]:
        try:
            raw = await self._redis.get(self._handoff_key(call_id))
        except RedisError as exc:
            raise StoreUnavailableError("screen pop store failed") from exc
        if raw is None:
            raise NoScreenPopError(f"no hand-off for call {call_id}")
        data: dict[str, Any] = json.loads(raw)
        return data

    async def reached_agent(self, agent: str, call_id: str) -> ScreenPop | None:
        """The call was bridged to ``agent``: push its pop onto the agent's stream (None when
        the call has no hand-off, e.g. a caller the app did not put in the queue)."""
        try:
            data = await self._handoff(call_id)
        except NoScreenPopError:
            return None
        number = data.get("number") or {}
        pop = ScreenPop(
            call_id=call_id,
            agent=agent,
            queue=data["queue"],
            priority=int(data["priority"]),
            reason=data["reason"],
            intent=data.get("intent"),
            flags=tuple(data.get("flags") or ()),
            consent_state=data.get("consent_state"),
            masked_number=number.get("masked"),
            conversation=tuple((str(w), str(t)) for w, t in data.get("conversation") or ()),
            flow=data.get("flow", ""),
            path=tuple(data.get("path") or ()),
            handed_off_at=data.get("at", ""),
        )
        try:
            await self._redis.xadd(
                self.stream(agent),
                {"pop": json.dumps(pop.as_json())},
                maxlen=POPS_MAXLEN,
                approximate=True,
            )
        except RedisError as exc:
            raise StoreUnavailableError("screen pop store failed") from exc
        return pop

    async def read(
        self, agent: str, after: str = "0", block_ms: int | None = None, count: int = 20
    ) -> list[tuple[str, dict[str, Any]]]:
        """Pops on ``agent``'s stream after id ``after`` (``$`` = only new ones), waiting up to
        ``block_ms`` for one."""
        try:
            answer: Any = await self._redis.xread(
                {self.stream(agent): after}, count=count, block=block_ms
            )
        except RedisError as exc:
            raise StoreUnavailableError("screen pop store failed") from exc
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
        data = await self._handoff(call_id)
        number = data.get("number")
        await self._evidence.append(
            EvidenceKind.NUMBER_REVEALED,
            call_id=call_id,
            payload={
                "subject": "screen_pop",
                "number": number["masked"] if number else None,
                "actor": actor,
                "role": role,
                "reason": reason[:500],
                "allowed": number is not None and bool(reason.strip()),
                "at": at.isoformat(),
            },
        )
        if not number:
            raise NoScreenPopError(f"call {call_id} has no number to show")
        if not reason.strip():
            raise ValueError("a reason is required to see the caller's number")
        sealed = SealedNumber(
            blind_index=number["bi"],
            masked=number["masked"],
            key_id=number["key_id"],
            wrapped_key=base64.b64decode(number["wrapped_key"]),
            ciphertext=base64.b64decode(number["ciphertext"]),
        )
        return self._numbers.unseal(sealed, _context(call_id))
