"""Redis clients for every Redis user: one node (or a Sentinel-managed primary) or a Cluster.

``IVR_REDIS_URL`` names the server; with ``IVR_REDIS_CLUSTER=true`` it is any node of a Redis
Cluster and the client follows the cluster's slot map (MOVED/ASK handled by redis-py). Keys that
one command or script touches together must share a hash tag (``{...}``): see
:mod:`compliance.redis_slots` for the gate, and the single-key streams of :mod:`ivr.events`.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import redis
import redis.asyncio as aioredis

AsyncRedis: TypeAlias = aioredis.Redis | aioredis.RedisCluster
SyncRedis: TypeAlias = redis.Redis | redis.RedisCluster


def async_client(url: str, *, cluster: bool, **options: Any) -> AsyncRedis:
    """An asyncio client for ``url`` (a Cluster client when ``cluster``)."""
    if cluster:
        return aioredis.RedisCluster.from_url(url, **options)
    return aioredis.Redis.from_url(url, **options)


def sync_client(url: str, *, cluster: bool, **options: Any) -> SyncRedis:
    """A blocking client for ``url`` (a Cluster client when ``cluster``)."""
    if cluster:
        return redis.RedisCluster.from_url(url, **options)
    return redis.Redis.from_url(url, **options)
