"""The gate on a real 3-primary Redis Cluster (the contract suite runs there too, via
``svc_any``): one customer's keys share one slot, customers spread over every primary, and a
primary that restarts empty fails closed only for its own customers until the resync."""

from __future__ import annotations

import uuid
from collections import defaultdict

import redis
from cmp_support import build
from helpers.numbers import customer, fresh_number
from redis.crc import key_slot

from compliance.decision import GateRequest
from shell.redis_cluster import LocalRedisCluster


async def test_a_customers_keys_share_a_slot_and_customers_spread_over_all_primaries(
    redis_cluster: LocalRedisCluster, sqlite_url: str
) -> None:
    prefix = f"cl-{uuid.uuid4().hex[:6]}"
    svc, _ = build(sqlite_url, "redis", prefix=prefix, redis_url=redis_cluster.url, cluster=True)
    await svc.start(watch=False)
    numbers = [fresh_number() for _ in range(60)]
    try:
        for n in numbers:
            assert (
                await svc.check_and_count(GateRequest(n, "marketing", uuid.uuid4().hex))
            ).allowed
        await svc.add_dnc(customer(numbers[0]), source="test", reason="r", actor="t")
        slots_of: dict[str, set[int]] = defaultdict(set)
        nodes_used = 0
        for port in redis_cluster.ports:
            node = redis.Redis(port=port)
            keys = [k.decode() for k in node.scan_iter(match=f"{prefix}:*", count=1000)]
            customer_keys = [k for k in keys if not k.endswith(":synced")]
            nodes_used += bool(customer_keys)
            for key in customer_keys:
                index = key.split(":")[2]
                slots_of[index].add(key_slot(key.encode()))
        assert len(slots_of) == len(numbers)
        assert all(len(slots) == 1 for slots in slots_of.values())  # count, attempt, dnc together
        assert nodes_used == len(redis_cluster.ports)
    finally:
        await svc.close()
