"""Store calls under guard: one timeout-and-translate wrapper, and a bounded SQL thread pool.

:func:`guarded` is the one place where a store call gets its deadline and where any failure or
timeout becomes :class:`ivr.errors.StoreUnavailableError` (the gate turns that into
``store_unavailable``, invariant 2). :class:`SqlPool` runs synchronous SQL work on its own
threads: work whose caller timed out keeps running (a thread cannot be stopped), so it keeps its
slot until it really ends, and when ``max_pending`` slots are taken new work is refused at once
instead of queueing behind a hung database (``asyncio.to_thread`` would queue it without bound
on the loop's default executor, starving everything else that uses it).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from ivr.errors import StoreUnavailableError

T = TypeVar("T")
P = ParamSpec("P")


async def guarded(aw: Awaitable[T], what: str, timeout_s: float | None) -> T:
    """Await a store call within ``timeout_s`` (None: no limit); any failure or timeout is
    :class:`StoreUnavailableError` naming ``what`` (never customer data)."""
    try:
        if timeout_s is None:
            return await aw
        if timeout_s <= 0:  # the deadline passed already: do not start the call
            if inspect.iscoroutine(aw):
                aw.close()
            raise TimeoutError
        async with asyncio.timeout(timeout_s):  # no extra task per call (hot path)
            return await aw
    except StoreUnavailableError:
        raise
    except TimeoutError as exc:
        raise StoreUnavailableError(f"{what}: timed out") from exc
    except Exception as exc:
        raise StoreUnavailableError(f"{what}: {type(exc).__name__}") from exc


class SqlPool:
    """A bounded thread pool for synchronous SQL work (see the module docstring)."""

    def __init__(self, name: str, *, workers: int, max_pending: int) -> None:
        if workers < 1 or max_pending < workers:
            raise ValueError("need workers >= 1 and max_pending >= workers")
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(max_pending)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn`` on the pool; raises :class:`StoreUnavailableError` when it is full."""
        if not self._slots.acquire(blocking=False):
            raise StoreUnavailableError(f"{self.name}: SQL work backlog full")
        try:
            future: Future[T] = self._executor.submit(functools.partial(fn, *args, **kwargs))
        except RuntimeError as exc:  # shut down
            self._slots.release()
            raise StoreUnavailableError(f"{self.name}: closed") from exc
        future.add_done_callback(self._release)  # when the work ends, not when we stop waiting
        return await asyncio.wrap_future(future)

    async def call(
        self,
        what: str,
        timeout_s: float | None,
        fn: Callable[P, T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        """:meth:`run` under :func:`guarded`: the usual way to reach the SQL ledger."""
        return await guarded(self.run(fn, *args, **kwargs), what, timeout_s)

    def _release(self, _: Future[Any]) -> None:
        self._slots.release()

    def close(self) -> None:
        """Stop taking work; running work finishes on its threads."""
        self._executor.shutdown(wait=False, cancel_futures=True)
