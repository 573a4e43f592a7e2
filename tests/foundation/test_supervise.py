"""Supervised loops stop when asked, even when a cancellation is swallowed on the way (Python
3.11's ``asyncio.wait_for`` does so when its inner wait completes as the cancel lands: a console
shutdown once hung 300 s on it); a loop that never stops is left behind with an error, not
waited for forever; idle waits never swallow the stop."""

from __future__ import annotations

import asyncio
import logging

import pytest

from ivr.supervise import Supervised, cancel_and_wait, wait_event


async def test_stop_ends_a_loop_that_swallows_the_first_cancellation() -> None:
    swallowed = asyncio.Event()
    running = asyncio.Event()

    async def stubborn() -> None:
        while True:
            running.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed.is_set():
                    raise
                swallowed.set()  # as wait_for does: the loop goes on

    loop = Supervised("stubborn", stubborn, stop_timeout_s=5.0)
    loop.start()
    await running.wait()
    await asyncio.wait_for(loop.stop(), 3.0)
    assert swallowed.is_set()
    assert not loop.state.running
    assert loop.restarts == 0  # a stop is not a crash


async def test_a_loop_that_never_stops_is_left_behind_with_an_error(
    caplog: pytest.LogCaptureFixture,
) -> None:
    running = asyncio.Event()
    release = asyncio.Event()

    async def deaf() -> None:
        while not release.is_set():
            running.set()
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                continue

    loop = Supervised("deaf", deaf, stop_timeout_s=0.3)
    loop.start()
    await running.wait()
    with caplog.at_level(logging.ERROR, logger="ivr.supervise"):
        await asyncio.wait_for(loop.stop(), 3.0)
    assert any("deaf did not stop" in r.getMessage() for r in caplog.records)
    release.set()


async def test_cancel_and_wait_consumes_the_tasks_own_failure() -> None:
    async def fails_on_cancel() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            raise RuntimeError("cleanup failed") from None

    task = asyncio.get_running_loop().create_task(fails_on_cancel())
    await asyncio.sleep(0)
    assert await cancel_and_wait(task, 2.0)
    assert isinstance(task.exception(), RuntimeError)


async def test_wait_event_reports_set_or_timeout_and_never_swallows_a_stop() -> None:
    event = asyncio.Event()
    assert await wait_event(event, 0.01) is False
    event.set()
    assert await wait_event(event, 5.0) is True

    idle = asyncio.Event()
    waiter = asyncio.get_running_loop().create_task(wait_event(idle, 3600))
    await asyncio.sleep(0)
    idle.set()
    waiter.cancel()  # the cancel lands as the wait completes: wait_for would return True here
    with pytest.raises(asyncio.CancelledError):
        await waiter
