"""Supervised background loops: restarted after a crash, never dying silently.

``Supervised(name, body)`` runs ``await body()`` in a task; when it raises, the crash is logged
with its traceback, counted and kept (:attr:`Supervised.last_crash`), and ``body`` is started again
after a backoff that doubles up to ``max_backoff_s`` (reset once a run lasted ``healthy_s``).
``body`` returning normally is treated as a crash too: a background loop has no reason to end.
Cancellation (``stop()``) ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

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
    ) -> None:
        self.name = name
        self._body = body
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._healthy_s = healthy_s
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
        while True:
            started = time.monotonic()
            try:
                await self._body()
                raise RuntimeError("the loop returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.restarts += 1
                self.last_crash = f"{type(exc).__name__}: {exc}"
                log.exception("%s crashed (restart %d in %.1f s)", self.name, self.restarts, delay)
            if time.monotonic() - started >= self._healthy_s:
                delay = self._backoff_s
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._max_backoff_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
