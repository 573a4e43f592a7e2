"""The shared state of agent-paced campaigns: their lines and recent calls (a port, two adapters).

Two dialler processes on one agent campaign must see each other's lines, or each dials the
level's worth and together they overdial. :class:`AgentLines` keeps, per campaign:

- its *lines*: every leg in flight of any dialler (claimed, ringing, answered), as leases (a
  dead dialler's lines lapse; live ones renew theirs). A *reservation* is a line taken before
  the claim (anonymous tokens); :meth:`AgentLines.bind` turns the tokens into the claimed
  attempts' ids and frees the unused ones;
- which lines are answered, and which of those an agent took (``bridge-agent-start``);
- the recent calls' results (dialled, answered, abandoned) by the time they ended (the
  dialler's clock), each attempt once.

:meth:`AgentLines.snapshot` reads it all with a *version*. The dial level itself is the pure
:func:`campaigns.dial_level.decide` on the snapshot (:class:`campaigns.agent_pacing.AgentPacing`):
it answers the lines that may be live and unanswered at once (``DialLevel.lines``), which does
not depend on how many ring now. :meth:`AgentLines.reserve` takes, in one atomic step, as many
lines as keep the campaign's live unanswered lines (every dialler's, counted at that instant)
within that number, so two diallers reserving on one snapshot never lose to each other and
together never pass the level: no compare-and-set between reservations. The version moves only
with the level's own inputs (an answer, a call's end with its result); a reservation made on an
older version takes nothing and returns the fresh state in the same reply, and the dialler
decides again on it within the tick. Changes that can only raise the level do not move it (an
agent taking a call, unused reservations freed, a line released or lapsing).

- :class:`RedisAgentLines`: one Lua script per operation on keys sharing the campaign's hash
  tag (``<prefix>:agent:{<campaign>}:...``: one Cluster slot, atomic), leases on Redis' clock;
  Redis failing raises :class:`ivr.errors.StoreUnavailableError` (the dialler then starts no
  line: fail closed).
- :class:`LocalAgentLines`: the same rules in memory, for the one-process embedded setup.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import redis.asyncio as aioredis

from campaigns.dial_level import CallSample, RecentCalls
from ivr.errors import StoreUnavailableError

Arg = str | int

KEEP_MS = 86_400_000
"""Idle keys of a campaign expire after a day."""


@dataclass(frozen=True, slots=True)
class Reserved:
    """What a reservation took: ``taken`` (a prefix of the tokens asked, possibly none), or,
    when the level's inputs moved since the snapshot's version, nothing and the ``fresh``
    state to decide again on."""

    taken: tuple[str, ...]
    fresh: LinesSnapshot | None = None


@dataclass(frozen=True, slots=True)
class LinesSnapshot:
    """One campaign's lines now, across diallers: ``lines`` in flight (reservations
    included), ``answered`` of them, ``waiting`` (answered, no agent yet), the recent calls."""

    version: int
    lines: int
    answered: int
    waiting: int
    recent: RecentCalls


class AgentLines(Protocol):
    async def snapshot(self, campaign: str, since: datetime, now: datetime) -> LinesSnapshot: ...

    async def reserve(
        self,
        campaign: str,
        version: int,
        lines: int,
        tokens: Sequence[str],
        lease_s: float,
        *,
        since: datetime,
        now: datetime,
    ) -> Reserved: ...

    async def bind(
        self, campaign: str, tokens: Sequence[str], ids: Sequence[str], lease_s: float
    ) -> None: ...

    async def answered(self, campaign: str, line: str, lease_s: float) -> None: ...

    async def bridged(self, campaign: str, line: str) -> None: ...

    async def ended(self, campaign: str, line: str, sample: CallSample | None) -> None: ...

    async def renew(self, campaign: str, lines: Iterable[str], lease_s: float) -> None: ...

    async def close(self) -> None: ...


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


# the campaign's state now (KEYS: lines, answered, bridged, calls, answers, abandons, version;
# ARGV[1], ARGV[2]: since_ms, now_ms): expired leases and old calls dropped first
_STATE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 1, 3 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now) end
for i = 4, 6 do redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[1]) end
local function state()
  return {
    tonumber(redis.call('GET', KEYS[7]) or '0'),
    redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2]), redis.call('ZCARD', KEYS[3]),
    redis.call('ZCOUNT', KEYS[4], ARGV[1], ARGV[2]),
    redis.call('ZCOUNT', KEYS[5], ARGV[1], ARGV[2]),
    redis.call('ZCOUNT', KEYS[6], ARGV[1], ARGV[2])
  }
end
"""

SNAPSHOT_LUA = _STATE_LUA + "return state()\n"

# KEYS: as the state's   ARGV: since_ms, now_ms, version, lines, lease_ms, keep_ms, token...
# the level's inputs moved since ``version``: nothing taken, the fresh state returned (0, ...);
# else as many tokens as keep the live unanswered lines within ``lines`` (1, taken)
RESERVE_LUA = (
    _STATE_LUA
    + """
local v = tonumber(redis.call('GET', KEYS[7]) or '0')
if v ~= tonumber(ARGV[3]) then
  local fresh = state()
  table.insert(fresh, 1, 0)
  return fresh
end
local ringing = redis.call('ZCARD', KEYS[1]) - redis.call('ZCARD', KEYS[2])
local n = math.min(#ARGV - 6, tonumber(ARGV[4]) - ringing)
if n <= 0 then return {1, 0} end
local lease = now + tonumber(ARGV[5])
for i = 1, n do redis.call('ZADD', KEYS[1], lease, ARGV[6 + i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[6])
return {1, n}
"""
)

# KEYS: lines   ARGV: lease_ms, number of tokens, token..., id...
BIND_LUA = """
local n = tonumber(ARGV[2])
local t = redis.call('TIME')
local lease = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 3, 2 + n do redis.call('ZREM', KEYS[1], ARGV[i]) end
for i = 3 + n, #ARGV do redis.call('ZADD', KEYS[1], lease, ARGV[i]) end
return 1
"""

# KEYS: lines, answered, version   ARGV: line, lease_ms, keep_ms
ANSWERED_LUA = """
if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return 0 end
local t = redis.call('TIME')
local lease = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], lease, ARGV[1])
redis.call('ZADD', KEYS[2], lease, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
redis.call('INCR', KEYS[3])
redis.call('PEXPIRE', KEYS[3], ARGV[3])
return 1
"""

# KEYS: answered, bridged   ARGV: line, keep_ms
BRIDGED_LUA = """
local lease = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not lease then return 0 end
redis.call('ZADD', KEYS[2], lease, ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
"""

# KEYS: lines, answered, bridged, calls, answers, abandons, version
# ARGV: line, keep_ms, sample (0/1), ended_ms, answered (0/1), abandoned (0/1)
ENDED_LUA = """
for i = 1, 3 do redis.call('ZREM', KEYS[i], ARGV[1]) end
if ARGV[3] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
  redis.call('PEXPIRE', KEYS[4], ARGV[2])
  if ARGV[5] == '1' then
    redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
    redis.call('PEXPIRE', KEYS[5], ARGV[2])
  end
  if ARGV[6] == '1' then
    redis.call('ZADD', KEYS[6], ARGV[4], ARGV[1])
    redis.call('PEXPIRE', KEYS[6], ARGV[2])
  end
  redis.call('INCR', KEYS[7])
  redis.call('PEXPIRE', KEYS[7], ARGV[2])
end
return 1
"""

# KEYS: lines, answered, bridged   ARGV: lease_ms, line...
RENEW_LUA = """
local t = redis.call('TIME')
local lease = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  for k = 1, 3 do redis.call('ZADD', KEYS[k], 'XX', lease, ARGV[i]) end
end
return 1
"""


def _snapshot_of(state: Sequence[Any]) -> LinesSnapshot:
    """A snapshot from the scripts' state reply (version, lines, answered, bridged, dialled,
    answers, abandons)."""
    v, lines, answered, bridged, dialled, ans, ab = (int(x) for x in state)
    return LinesSnapshot(
        v, lines, answered, max(0, answered - bridged), RecentCalls(dialled, ans, ab)
    )


class RedisAgentLines:
    """Agent campaigns' lines across dialler processes (see the module docstring)."""

    def __init__(self, url: str, prefix: str, timeout_s: float = 0.5) -> None:
        self.prefix = f"{prefix}:agent"
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
        )
        self._snapshot = self.client.register_script(SNAPSHOT_LUA)
        self._reserve = self.client.register_script(RESERVE_LUA)
        self._bind = self.client.register_script(BIND_LUA)
        self._answered = self.client.register_script(ANSWERED_LUA)
        self._bridged = self.client.register_script(BRIDGED_LUA)
        self._ended = self.client.register_script(ENDED_LUA)
        self._renew = self.client.register_script(RENEW_LUA)

    def _keys(self, campaign: str) -> list[str]:
        tag = f"{self.prefix}:{{{campaign}}}"
        names = ("lines", "answered", "bridged", "calls", "answers", "abandons", "version")
        return [f"{tag}:{n}" for n in names]

    async def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            raise StoreUnavailableError(f"redis agent lines {what}: {type(exc).__name__}") from exc

    async def snapshot(self, campaign: str, since: datetime, now: datetime) -> LinesSnapshot:
        keys = self._keys(campaign)
        got = await self._call(
            "snapshot", lambda: self._snapshot(keys=keys, args=[_ms(since), _ms(now)])
        )
        return _snapshot_of(got)

    async def reserve(
        self,
        campaign: str,
        version: int,
        lines: int,
        tokens: Sequence[str],
        lease_s: float,
        *,
        since: datetime,
        now: datetime,
    ) -> Reserved:
        keys = self._keys(campaign)
        args: list[Arg] = [
            _ms(since), _ms(now), version, lines, int(lease_s * 1000), KEEP_MS, *tokens,
        ]  # fmt: skip
        got = await self._call("reserve", lambda: self._reserve(keys=keys, args=args))
        if int(got[0]) == 0:
            return Reserved((), _snapshot_of(got[1:]))
        return Reserved(tuple(tokens[: int(got[1])]))

    async def bind(
        self, campaign: str, tokens: Sequence[str], ids: Sequence[str], lease_s: float
    ) -> None:
        if not tokens and not ids:
            return
        keys = self._keys(campaign)[:1]
        args: list[Arg] = [int(lease_s * 1000), len(tokens), *tokens, *ids]
        await self._call("bind", lambda: self._bind(keys=keys, args=args))

    async def answered(self, campaign: str, line: str, lease_s: float) -> None:
        k = self._keys(campaign)
        args: list[Arg] = [line, int(lease_s * 1000), KEEP_MS]
        await self._call("answered", lambda: self._answered(keys=[k[0], k[1], k[6]], args=args))

    async def bridged(self, campaign: str, line: str) -> None:
        k = self._keys(campaign)
        await self._call("bridged", lambda: self._bridged(keys=[k[1], k[2]], args=[line, KEEP_MS]))

    async def ended(self, campaign: str, line: str, sample: CallSample | None) -> None:
        keys = self._keys(campaign)
        if sample is None:
            args: list[Arg] = [line, KEEP_MS, 0, 0, 0, 0]
        else:
            args = [line, KEEP_MS, 1, _ms(sample.ended_at), int(sample.answered),
                    int(sample.abandoned)]  # fmt: skip
        await self._call("ended", lambda: self._ended(keys=keys, args=args))

    async def renew(self, campaign: str, lines: Iterable[str], lease_s: float) -> None:
        ids = list(lines)
        if ids:
            keys = self._keys(campaign)[:3]
            await self._call(
                "renew", lambda: self._renew(keys=keys, args=[int(lease_s * 1000), *ids])
            )

    async def close(self) -> None:
        await self.client.aclose()


@dataclass
class _Campaign:
    lines: dict[str, float] = field(default_factory=dict)  # line -> lease end (monotonic)
    answered: set[str] = field(default_factory=set)
    bridged: set[str] = field(default_factory=set)
    calls: dict[str, CallSample] = field(default_factory=dict)
    version: int = 0


@dataclass
class LocalAgentLines:
    """The same rules in one process (embedded setup without Redis)."""

    clock: Callable[[], float] = time.monotonic
    _camps: dict[str, _Campaign] = field(default_factory=dict)

    def _of(self, campaign: str) -> _Campaign:
        c = self._camps.setdefault(campaign, _Campaign())
        now = self.clock()
        for line in [k for k, until in c.lines.items() if until <= now]:
            del c.lines[line]
            c.answered.discard(line)
            c.bridged.discard(line)
        return c

    async def snapshot(self, campaign: str, since: datetime, now: datetime) -> LinesSnapshot:
        c = self._of(campaign)
        for k in [k for k, s in c.calls.items() if s.ended_at < since]:
            del c.calls[k]
        window = [s for s in c.calls.values() if since <= s.ended_at <= now]
        recent = RecentCalls(
            len(window), sum(s.answered for s in window), sum(s.abandoned for s in window)
        )
        waiting = len(c.answered - c.bridged)
        return LinesSnapshot(c.version, len(c.lines), len(c.answered), waiting, recent)

    async def reserve(
        self,
        campaign: str,
        version: int,
        lines: int,
        tokens: Sequence[str],
        lease_s: float,
        *,
        since: datetime,
        now: datetime,
    ) -> Reserved:
        c = self._of(campaign)
        if c.version != version:
            return Reserved((), await self.snapshot(campaign, since, now))
        n = max(0, min(len(tokens), lines - (len(c.lines) - len(c.answered))))
        until = self.clock() + lease_s
        for t in tokens[:n]:
            c.lines[t] = until
        return Reserved(tuple(tokens[:n]))

    async def bind(
        self, campaign: str, tokens: Sequence[str], ids: Sequence[str], lease_s: float
    ) -> None:
        c = self._of(campaign)
        for t in tokens:
            c.lines.pop(t, None)
        until = self.clock() + lease_s
        for i in ids:
            c.lines[i] = until

    async def answered(self, campaign: str, line: str, lease_s: float) -> None:
        c = self._of(campaign)
        if line in c.lines:
            c.lines[line] = self.clock() + lease_s
            c.answered.add(line)
            c.version += 1

    async def bridged(self, campaign: str, line: str) -> None:
        c = self._of(campaign)
        if line in c.answered:
            c.bridged.add(line)

    async def ended(self, campaign: str, line: str, sample: CallSample | None) -> None:
        c = self._of(campaign)
        c.lines.pop(line, None)
        c.answered.discard(line)
        c.bridged.discard(line)
        if sample is not None:
            c.calls[line] = sample
            c.version += 1

    async def renew(self, campaign: str, lines: Iterable[str], lease_s: float) -> None:
        c = self._of(campaign)
        until = self.clock() + lease_s
        for line in lines:
            if line in c.lines:
                c.lines[line] = until

    async def close(self) -> None:
        return None


__all__ = ["AgentLines", "LinesSnapshot", "LocalAgentLines", "RedisAgentLines", "Reserved"]
