"""Micro-batching of the gate script: concurrent dial-time checks share one Redis round trip.

Every check that arrives while a batch is in flight waits for the next one; a batch is one
non-transactional pipeline of ``EVALSHA`` calls, so each check is still its own atomic Lua run
(semantics unchanged) while the client pays one connection checkout, one write and one read per
batch instead of per check. A missing script (Redis restarted) is loaded and the batch retried
once. Errors are per check: one bad reply fails only its caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import NoScriptError

MAX_BATCH = 256


class ScriptBatcher:
    """Queue ``(keys, args)`` runs of one Lua script; flush them in pipelined batches."""

    def __init__(self, client: aioredis.Redis, script: str) -> None:
        self._client = client
        self._script = script
        self._sha = hashlib.sha1(script.encode()).hexdigest()  # noqa: S324 - Redis script id
        self._queue: list[tuple[list[str], list[Any], asyncio.Future[Any]]] = []
        self._flusher: asyncio.Task[None] | None = None

    async def run(self, keys: list[str], args: list[Any]) -> Any:
        """The script's reply for these keys and args (raises what Redis raised for it)."""
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queue.append((keys, args, future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_all())
        return await future

    async def _flush_all(self) -> None:
        await asyncio.sleep(0)  # let the callers of this loop turn join the batch
        while self._queue:
            batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
            live = [item for item in batch if not item[2].done()]
            if not live:
                continue
            try:
                replies = await self._send(live)
            except Exception as exc:  # noqa: BLE001 - handed to every caller of the batch
                for _, _, future in live:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, _, future), reply in zip(live, replies, strict=True):
                if future.done():
                    continue
                if isinstance(reply, Exception):
                    future.set_exception(reply)
                else:
                    future.set_result(reply)

    async def _send(
        self, batch: list[tuple[list[str], list[Any], asyncio.Future[Any]]]
    ) -> list[Any]:
        for attempt in range(2):
            pipe = self._client.pipeline(transaction=False)
            for keys, args, _ in batch:
                pipe.evalsha(self._sha, len(keys), *keys, *args)
            replies: list[Any] = await pipe.execute(raise_on_error=False)
            if attempt == 0 and any(isinstance(r, NoScriptError) for r in replies):
                await self._client.script_load(self._script)
                continue
            return replies
        raise AssertionError("unreachable")

    async def close(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._flusher
