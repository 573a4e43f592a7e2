"""Pacing: concurrency and calls-per-second caps per campaign, and the bot-capacity bound.

A :class:`Pacer` hands out one slot per call: :meth:`Pacer.acquire` answers at once
(``Slot`` or the seconds to wait), :meth:`Pacer.release` frees it when the call ended. Slots
are leases (a dialler that dies does not keep them); live diallers renew them.

- :class:`RedisPacer`: one Lua script per acquire, so the caps hold across dialler processes
  and nodes (acquire and release go over one pipelined connection,
  :class:`compliance.redis_pipe.PipelinedScript`: the concurrent attempts' scripts share one
  write and one round trip, no pool checkout per attempt): a per-campaign sorted set of live
  slots (score = lease end) capped at the campaign's concurrency, a global one capped at the
  bot capacity, and a per-campaign token bucket (rate = CPS cap, burst = one second's worth)
  on Redis' own clock. Redis failing
  raises :class:`ivr.errors.StoreUnavailableError`: the dialler originates nothing until it is
  back (fail closed).
- :class:`LocalPacer`: the same rules in memory, for the embedded single-process setup.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

import redis.asyncio as aioredis

from compliance.redis_pipe import PipelinedScript
from ivr.errors import StoreUnavailableError


@dataclass(frozen=True, slots=True)
class Caps:
    """One campaign's caps and the process-wide bot capacity."""

    concurrency: int
    cps: float
    capacity: int


@dataclass(frozen=True, slots=True)
class Grant:
    """``ok``: a slot is held; else wait ``wait_s`` before asking again."""

    ok: bool
    wait_s: float = 0.0
    why: str = ""


class Pacer(Protocol):
    async def acquire(self, campaign: str, slot: str, caps: Caps, lease_s: float) -> Grant: ...

    async def release(self, campaign: str, slot: str) -> None: ...

    async def renew(self, campaign: str, slots: Iterable[str], lease_s: float) -> None: ...

    async def active(self, campaign: str) -> int: ...

    async def close(self) -> None: ...


# KEYS: campaign slots zset, all slots zset, bucket hash
# ARGV: slot, lease_ms, concurrency, capacity, cps
ACQUIRE_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if redis.call('ZSCORE', KEYS[1], ARGV[1]) then return {1, 0} end
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then return {0, 200, 'concurrency'} end
if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[4]) then return {0, 200, 'capacity'} end
local rate = tonumber(ARGV[5])
local burst = math.max(1, rate)
local b = redis.call('HMGET', KEYS[3], 'tokens', 'ts')
local tokens = tonumber(b[1]) or burst
local ts = tonumber(b[2]) or now
tokens = math.min(burst, tokens + (now - ts) * rate / 1000)
if tokens < 1 then
  redis.call('HSET', KEYS[3], 'tokens', tostring(tokens), 'ts', now)
  return {0, math.ceil((1 - tokens) * 1000 / rate), 'cps'}
end
redis.call('HSET', KEYS[3], 'tokens', tostring(tokens - 1), 'ts', now)
redis.call('PEXPIRE', KEYS[3], 60000)
local lease = now + tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], lease, ARGV[1])
redis.call('ZADD', KEYS[2], lease, ARGV[1])
return {1, 0}
"""

# KEYS: campaign slots, all slots   ARGV: slot
RELEASE_LUA = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: campaign slots, all slots   ARGV: lease_ms, slot...
RENEW_LUA = """
local t = redis.call('TIME')
local lease = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
for i = 2, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], lease, ARGV[i])
    redis.call('ZADD', KEYS[2], lease, ARGV[i])
  end
end
return 1
"""


class RedisPacer:
    """Caps across processes (see the module docstring). Keys under ``<prefix>:pacing``."""

    def __init__(self, url: str, prefix: str, timeout_s: float = 0.5) -> None:
        self.prefix = f"{prefix}:pacing"
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s, decode_responses=True
        )
        self._acquire = PipelinedScript(url, ACQUIRE_LUA, timeout_s)
        self._release = PipelinedScript(url, RELEASE_LUA, timeout_s)
        self._renew = self.client.register_script(RENEW_LUA)

    def _keys(self, campaign: str) -> list[str]:
        return [
            f"{self.prefix}:{{{campaign}}}:slots",
            f"{self.prefix}:all",
            f"{self.prefix}:{{{campaign}}}:bucket",
        ]

    async def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return await fn()
        except Exception as exc:
            raise StoreUnavailableError(f"redis pacing {what}: {type(exc).__name__}") from exc

    async def acquire(self, campaign: str, slot: str, caps: Caps, lease_s: float) -> Grant:
        res = await self._call(
            "acquire",
            lambda: self._acquire.run(
                self._keys(campaign),
                [slot, int(lease_s * 1000), caps.concurrency, caps.capacity, repr(caps.cps)],
            ),
        )
        if int(res[0]) == 1:
            return Grant(True)
        return Grant(False, int(res[1]) / 1000, str(res[2]))

    async def release(self, campaign: str, slot: str) -> None:
        keys = self._keys(campaign)[:2]
        await self._call("release", lambda: self._release.run(keys, [slot]))

    async def renew(self, campaign: str, slots: Iterable[str], lease_s: float) -> None:
        ids = list(slots)
        if ids:
            keys = self._keys(campaign)[:2]
            await self._call(
                "renew", lambda: self._renew(keys=keys, args=[int(lease_s * 1000), *ids])
            )

    async def active(self, campaign: str) -> int:
        key = self._keys(campaign)[0]
        now_ms = time.time() * 1000
        return int(await self._call("count", lambda: self.client.zcount(key, now_ms, "+inf")))

    async def close(self) -> None:
        await self._acquire.close()
        await self._release.close()
        await self.client.aclose()


@dataclass
class _Bucket:
    tokens: float
    ts: float


@dataclass
class LocalPacer:
    """The same caps in one process (embedded setup without Redis)."""

    clock: Callable[[], float] = time.monotonic
    _slots: dict[str, dict[str, float]] = field(default_factory=dict)
    _buckets: dict[str, _Bucket] = field(default_factory=dict)

    def _live(self, campaign: str, now: float) -> dict[str, float]:
        slots = self._slots.setdefault(campaign, {})
        for k in [k for k, until in slots.items() if until <= now]:
            del slots[k]
        return slots

    def _all(self, now: float) -> int:
        return sum(len(self._live(c, now)) for c in list(self._slots))

    async def acquire(self, campaign: str, slot: str, caps: Caps, lease_s: float) -> Grant:
        now = self.clock()
        slots = self._live(campaign, now)
        if slot in slots:
            return Grant(True)
        if len(slots) >= caps.concurrency:
            return Grant(False, 0.2, "concurrency")
        if self._all(now) >= caps.capacity:
            return Grant(False, 0.2, "capacity")
        burst = max(1.0, caps.cps)
        b = self._buckets.setdefault(campaign, _Bucket(burst, now))
        b.tokens = min(burst, b.tokens + (now - b.ts) * caps.cps)
        b.ts = now
        if b.tokens < 1:
            return Grant(False, math.ceil((1 - b.tokens) * 1000 / caps.cps) / 1000, "cps")
        b.tokens -= 1
        slots[slot] = now + lease_s
        return Grant(True)

    async def release(self, campaign: str, slot: str) -> None:
        self._slots.get(campaign, {}).pop(slot, None)

    async def renew(self, campaign: str, slots: Iterable[str], lease_s: float) -> None:
        live = self._slots.get(campaign, {})
        until = self.clock() + lease_s
        for s in slots:
            if s in live:
                live[s] = until

    async def active(self, campaign: str) -> int:
        return len(self._live(campaign, self.clock()))

    async def close(self) -> None:
        return None
