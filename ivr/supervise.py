"""Supervised background loops: restarted after a crash, never dying silently.

``Supervised(name, body)`` runs ``await body()`` in a task; when it raises, the crash is logged
with its traceback, counted and kept (:attr:`Supervised.last_crash`), and ``body`` is started again
after a backoff that doubles up to ``max_backoff_s`` (reset once a run lasted ``healthy_s``).
``body`` returning normally is treated as a crash too: a background loop has no reason to end.
Cancellation (``stop()``) ends it: ``stop()`` cancels again while the task is still running
(Python 3.11's ``asyncio.wait_for`` can swallow a cancellation that lands as its inner wait
completes, and a body that swallows one would otherwise keep the stopper waiting forever) and
gives up, logging, after ``stop_timeout_s``: a shutdown is never held up by one loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class SupervisorState:
    """What a supervised loop is doing, for health checks."""

    name: str
    running: bool  # the task exists and has not been stopped
    restarts: int
    last_crash: str | None  # "<ExceptionType>: <message>" of the last crash


class Supervised:
    """One background loop under supervision (see the module docstring)."""

    def __init__(
        self,
        name: str,
        body: Callable[[], Awaitable[None]],
        *,
        backoff_s: float = 0.1,
        max_backoff_s: float = 5.0,
        healthy_s: float = 30.0,
        stop_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self._body = body
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_s = healthy_s
        self._stop_timeout_s = stop_timeout_s
        self._stopping = False
        self.restarts = 0
        self.last_crash: str | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._supervise(), name=self.name)

    @property
    def state(self) -> SupervisorState:
        running = self._task is not None and not self._task.done()
        return SupervisorState(self.name, running, self.restarts, self.last_crash)

    async def _supervise(self) -> None:
        delay = self._backoff_s
        while not self._stopping:
            started = time.monotonic()
            try:
                await self._body()
                raise RuntimeError("the loop returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self._stopping:
                    return
                self.restarts += 1
                self.last_crash = f"{type(exc).__name__}: {exc}"
                log.exception("%s crashed (restart %d in %.1f s)", self.name, self.restarts, delay)
            if time.monotonic() - started >= self._healthy_s:
                delay = self._backoff_s
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff_s)

    async def stop(self) -> None:
        """Cancel the loop and wait for it to end (see the module docstring)."""
        task, self._task = self._task, None
        if task is None:
            return
        self._stopping = True
        if await cancel_and_wait(task, self._stop_timeout_s):
            self._stopping = False
        else:
            log.error("%s did not stop within %.1f s; left behind", self.name, self._stop_timeout_s)


async def cancel_and_wait(task: asyncio.Future[Any], timeout_s: float = 5.0) -> bool:
    """Cancel ``task`` and wait until it is done, cancelling again while it runs on (a swallowed
    cancellation); ``False`` when it is still running after ``timeout_s``. Whatever the task
    ended with is consumed (the caller is stopping it)."""
    deadline = time.monotonic() + timeout_s
    while not task.done():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        task.cancel()
        await asyncio.wait({task}, timeout=min(0.2, remaining))
    if not task.cancelled():
        task.exception()  # retrieved: no "exception was never retrieved" at shutdown
    return True


async def wait_event(event: asyncio.Event, timeout_s: float) -> bool:
    """Wait up to ``timeout_s`` for ``event``; ``True`` if it is set. A loop's idle wait: unlike
    Python 3.11's ``asyncio.wait_for`` it never swallows the cancellation that stops the loop."""
    try:
        async with asyncio.timeout(timeout_s):
            await event.wait()
    except TimeoutError:
        return event.is_set()
    return True
