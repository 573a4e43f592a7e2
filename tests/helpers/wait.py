"""Wait until a condition holds, polling with a deadline; fail the test if it never does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

POLL_S = 0.01


async def eventually(
    condition: Callable[[], bool], timeout_s: float = 20.0, *, what: str = "condition"
) -> None:
    """Poll ``condition()`` in the running loop until it holds; AssertionError after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        await asyncio.sleep(POLL_S)


def wait_until(
    condition: Callable[[], bool], timeout_s: float = 20.0, *, what: str = "condition"
) -> None:
    """:func:`eventually` for synchronous tests (threads, subprocesses, a browser)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout_s} s")
        time.sleep(POLL_S)


async def eventually_found(
    probe: Callable[[], Awaitable[T | None]], timeout_s: float = 20.0, *, what: str = "value"
) -> T:
    """Await ``probe()`` until it gives something other than ``None`` (a row, a stream entry)
    and return it; AssertionError after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while (found := await probe()) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not found within {timeout_s} s")
        await asyncio.sleep(POLL_S)
    return found
