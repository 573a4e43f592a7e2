"""The Redis gate store (production): the dial-time check-and-count is ONE Lua script.

Keys share the number's hash tag, ``{prefix}:{<index>}:...``, so one script touches one slot:
``dnc`` (present = on the list), ``dnd`` (``"start-end,..."`` minutes), ``n:<local date>``
(today's count) and ``a:<attempt id>`` (count seen by an attempt that was counted: replays do not
count again, but still see a later DNC). A ``{prefix}:synced`` sentinel says the DNC and DND
mirrors were rebuilt from SQL; if it is missing (Redis lost its data) the script answers
``unsynced`` and the service fails closed until :meth:`RedisGateStore.resync` ran.

On a Redis Cluster (``cluster=True``) every key a script run touches must be in one slot: a
customer's keys carry its bucket's hash tag, ``{prefix}:{b<bucket>}:<index>:...``, and the
sentinel exists once per bucket, ``{prefix}:{b<bucket>}:synced`` (:mod:`compliance.redis_slots`);
a primary that restarts empty fails closed for its own buckets only. The script then goes
through redis-py's cluster client (``EVALSHA`` routed by the first key's slot) instead of the
single pipelined connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from compliance.decision import DndWindow
from compliance.ports import GateQuery, StoreFacts, StoreUnsyncedError
from compliance.redis_pipe import ClusterScript, PipelinedScript
from compliance.redis_slots import bucket_tag, bucket_tags
from compliance.tables import format_dnd, parse_dnd
from ivr.errors import StoreUnavailableError
from ivr.redis_conn import AsyncRedis

COUNT_TTL_S = 3 * 86400
ATTEMPT_TTL_S = 3 * 86400

# KEYS: dnc, dnd, count, attempt, synced   ARGV: minute, cap, may_count, count_ttl, attempt_ttl
GATE_LUA = """
if redis.call('EXISTS', KEYS[5]) == 0 then return {-1} end
local dnc = redis.call('EXISTS', KEYS[1])
local prior = redis.call('GET', KEYS[4])
if prior then return {1, dnc, tonumber(prior), 1, ''} end
local dnd = redis.call('GET', KEYS[2]) or ''
local count = tonumber(redis.call('GET', KEYS[3]) or '0')
local m = tonumber(ARGV[1])
local in_dnd = 0
for s, e in string.gmatch(dnd, '(%d+)-(%d+)') do
  s = tonumber(s); e = tonumber(e)
  if (s < e and m >= s and m < e) or (s > e and (m >= s or m < e)) then in_dnd = 1 end
end
local counted = 0
if ARGV[3] == '1' and dnc == 0 and in_dnd == 0 and count < tonumber(ARGV[2]) then
  redis.call('SET', KEYS[3], count + 1, 'EX', ARGV[4])
  redis.call('SET', KEYS[4], count, 'EX', ARGV[5])
  counted = 1
end
return {0, dnc, count, counted, dnd}
"""

# KEYS: count   ARGV: count from the SQL decision log, ttl. A counter is only ever raised.
RAISE_COUNT_LUA = """
local c = tonumber(redis.call('GET', KEYS[1]) or '0')
if c < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
return c
"""


class RedisUnsyncedError(StoreUnsyncedError):
    """Redis lost its DNC mirror (restart without data); a resync from SQL is needed."""


class RedisGateStore:
    """Gate store on Redis; every method raises :class:`StoreUnavailableError` on failure."""

    counts_durably = False  # Redis may lose a count: the decision log makes it durable

    def __init__(
        self,
        url: str,
        prefix: str,
        timeout_s: float,
        max_connections: int = 64,
        *,
        cluster: bool = False,
    ) -> None:
        self.prefix = prefix
        self.cluster = cluster
        self.client: AsyncRedis
        self._script: PipelinedScript | ClusterScript
        if cluster:
            self.client = aioredis.RedisCluster.from_url(
                url,
                max_connections=max_connections,
                socket_timeout=timeout_s,
                socket_connect_timeout=timeout_s,
                decode_responses=True,
            )
            self._script = ClusterScript(self.client, GATE_LUA)
            return
        # A blocking pool: at high concurrency callers queue for a connection (bounded by the
        # service's timeout) instead of failing at once with "too many connections".
        pool = aioredis.BlockingConnectionPool.from_url(
            url,
            max_connections=max_connections,
            timeout=timeout_s,
            socket_timeout=timeout_s,
            socket_connect_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1),  # one immediate retry: a stale pooled connection
            decode_responses=True,
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self._script = PipelinedScript(url, GATE_LUA, timeout_s)

    def _k(self, number_index: str, suffix: str) -> str:
        if self.cluster:
            return f"{self.prefix}:{{{bucket_tag(number_index)}}}:{number_index}:{suffix}"
        return f"{self.prefix}:{{{number_index}}}:{suffix}"

    @property
    def synced_key(self) -> str:
        """The sentinel on one node (on a cluster: one per bucket, :meth:`synced_key_for`)."""
        return f"{self.prefix}:synced"

    def synced_key_for(self, number_index: str) -> str:
        """The sentinel the script checks with this customer's keys (same slot on a cluster)."""
        if not self.cluster:
            return self.synced_key
        return f"{self.prefix}:{{{bucket_tag(number_index)}}}:synced"

    def _all_synced_keys(self) -> list[str]:
        if not self.cluster:
            return [self.synced_key]
        return [f"{self.prefix}:{{{tag}}}:synced" for tag in bucket_tags()]

    async def _run(self, keys: list[str], args: list[Any]) -> list[Any]:
        try:
            res = await self._script.run(keys, args)
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc
        if not isinstance(res, list) or not res:
            raise StoreUnavailableError("redis: unexpected script reply")
        if int(res[0]) == -1:
            raise RedisUnsyncedError("redis DNC mirror not synced from SQL")
        return res

    @staticmethod
    def _facts(res: list[Any]) -> StoreFacts:
        status, is_dnc, count, counted, dnd = res
        return StoreFacts(
            dnc=bool(int(is_dnc)),
            dnd_windows=parse_dnd(dnd or None),
            count_before=int(count),
            counted=bool(int(counted)),
            replay=int(status) == 1,
        )

    async def check_and_count(self, query: GateQuery) -> StoreFacts:
        n = query.number_index
        res = await self._run(
            [
                self._k(n, "dnc"),
                self._k(n, "dnd"),
                self._k(n, f"n:{query.local_date}"),
                self._k(n, f"a:{query.attempt_id}"),
                self.synced_key_for(n),
            ],
            [
                query.minute_of_day,
                query.cap,
                "1" if query.may_count else "0",
                COUNT_TTL_S,
                ATTEMPT_TTL_S,
            ],
        )
        return self._facts(res)

    async def peek(self, number_index: str, local_date: str, minute_of_day: int) -> StoreFacts:
        n = number_index
        res = await self._run(
            [
                self._k(n, "dnc"),
                self._k(n, "dnd"),
                self._k(n, f"n:{local_date}"),
                self._k(n, "peek"),  # never set: a peek is never a replay
                self.synced_key_for(n),
            ],
            [minute_of_day, 0, "0", COUNT_TTL_S, ATTEMPT_TTL_S],
        )
        return self._facts(res)

    async def mirror_dnc(self, number_index: str, present: bool) -> None:
        try:
            if present:
                await self.client.set(self._k(number_index, "dnc"), "1")
            else:
                await self.client.delete(self._k(number_index, "dnc"))
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def mirror_dnd(self, number_index: str, windows: Sequence[DndWindow]) -> None:
        try:
            if windows:
                await self.client.set(self._k(number_index, "dnd"), format_dnd(windows))
            else:
                await self.client.delete(self._k(number_index, "dnd"))
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def unsync(self) -> None:
        """Force every node to fail closed until the next resync (after a failed mirror)."""
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in self._all_synced_keys():
                pipe.delete(key)
            await pipe.execute()
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def is_synced(self) -> bool:
        try:
            pipe = self.client.pipeline(transaction=False)
            for key in self._all_synced_keys():
                pipe.exists(key)
            return all(await pipe.execute())
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def resync(
        self,
        dnc_indexes: Iterable[str],
        dnd_rows: Iterable[tuple[str, str]],
        counted: Iterable[tuple[str, str, int]],
    ) -> None:
        """Rebuild the DNC and DND mirrors (and lost day counters) from SQL, then mark synced.

        DNC keys are only ever set here, never deleted: a removal racing a resync leaves the
        number on the list (the safe side); the officer can remove it again.
        """
        try:
            pipe = self.client.pipeline(transaction=False)
            for n in dnc_indexes:
                pipe.set(self._k(n, "dnc"), "1")
            for n, windows in dnd_rows:
                pipe.set(self._k(n, "dnd"), windows)
            for n, day, c in counted:
                # Counters lost with Redis come back from the decision log (never lowered).
                pipe.eval(RAISE_COUNT_LUA, 1, self._k(n, f"n:{day}"), c, COUNT_TTL_S)
            for key in self._all_synced_keys():
                pipe.set(key, "1")
            await pipe.execute()
        except Exception as exc:
            raise StoreUnavailableError(f"redis: {type(exc).__name__}") from exc

    async def delete_prefix(self) -> None:
        """Delete every key under this store's prefix (tests and benchmarks only)."""
        async for key in self.client.scan_iter(match=f"{self.prefix}:*", count=1000):
            await self.client.delete(key)

    async def close(self) -> None:
        await self._script.close()
        await self.client.aclose()
