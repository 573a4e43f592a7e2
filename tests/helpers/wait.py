"""Wait until a condition holds, polling with a deadline; fail the test if it never does."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

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
