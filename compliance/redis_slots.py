"""Redis Cluster hash tags of the gate's keys (pure).

A Lua script may only touch keys of one slot, and the gate's script reads a customer's keys
together with the "mirror is synced" sentinel. On a cluster every customer therefore belongs to
one of :data:`CLUSTER_BUCKETS` buckets (by its blind index), and the bucket is the hash tag of
all its keys: ``<prefix>:{b<bucket>}:<index>:dnc``, ``...:dnd``, ``...:n:<day>``, ``...:a:<id>``
and the bucket's own sentinel ``<prefix>:{b<bucket>}:synced``. One customer's keys are then on
one slot, the buckets spread over the primaries like any keys (1,024 of 16,384 slots), and a
primary that restarts empty loses the sentinels of its own buckets only: those customers fail
closed until the resync, the others are unaffected. Checking or setting every sentinel is
1,024 commands, not 16,384.
"""

from __future__ import annotations

import binascii

CLUSTER_BUCKETS = 1024


def bucket_tag(number_index: str) -> str:
    """The hash tag of a customer's keys on a cluster (stable: CRC-16 of the blind index)."""
    return f"b{binascii.crc_hqx(number_index.encode(), 0) % CLUSTER_BUCKETS}"


def bucket_tags() -> tuple[str, ...]:
    """Every bucket's tag (for the per-bucket sentinels)."""
    return tuple(f"b{i}" for i in range(CLUSTER_BUCKETS))
