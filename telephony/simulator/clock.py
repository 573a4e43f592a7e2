"""The simulated channel's media clock: scaled waits that end early on hang-up or a stop event.

Media durations are in milliseconds of call time; ``time_scale`` maps them to wall time (0 = as
fast as possible). While an audio fork runs (streaming mode) its frames are the clock: a wait
ends when the fork has sent that much audio, so prompts, speech and timers stay in step with the
audio the server receives.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Literal

from telephony.simulator.fork import AudioFork

Outcome = Literal["time", "hangup", "stop"]


class MediaClock:
    """Waits on one channel's media time; ``hungup`` ends every wait."""

    def __init__(self, time_scale: float) -> None:
        self.scale = time_scale
        self.hungup = asyncio.Event()
        self.fork: AudioFork | None = None
        self.waited_ms = 0.0

    def media_ms(self) -> float:
        """Media time the channel has spent waiting so far (prompts, speech, timers)."""
        fork = self.running_fork()
        return max(self.waited_ms, fork.clock_ms if fork is not None else 0.0)

    def running_fork(self) -> AudioFork | None:
        """The audio fork whose frames are the clock now, if one runs."""
        fork = self.fork
        return fork if fork is not None and fork.running else None

    async def sleep_wall(self, ms: float) -> None:
        """Wait ``ms`` scaled, whatever happens on the call (reply delays, linger)."""
        await asyncio.sleep(max(ms, 0) * self.scale / 1000)

    async def sleep(self, ms: float) -> bool:
        """Wait ``ms`` of media time; True if the call hung up meanwhile."""
        return await self.wait(ms) == "hangup"

    async def wait(self, ms: float, stop: asyncio.Event | None = None) -> Outcome:
        """Wait ``ms`` of media time; ``"time"``, ``"hangup"`` or ``"stop"`` (``stop`` set)."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        outcome = await self._wait(ms, stop)
        if outcome == "time" or self.scale <= 0:
            self.waited_ms += ms if outcome == "time" else 0
        else:
            self.waited_ms += min(ms, (loop.time() - started) * 1000 / self.scale)
        return outcome

    async def _wait(self, ms: float, stop: asyncio.Event | None) -> Outcome:
        fork = self.running_fork()
        if fork is not None:
            target = fork.clock_ms + ms
            outcome = await self._race(fork.reached(target), stop)
            if outcome != "time" or fork.clock_ms >= target:
                return outcome
            ms = target - fork.clock_ms  # the fork ended early: the rest on the wall clock
        delay = max(ms, 0) * self.scale / 1000
        if stop is None:
            if self.hungup.is_set():
                return "hangup"
            if delay <= 0:
                await asyncio.sleep(0)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.hungup.wait(), delay)
            return "hangup" if self.hungup.is_set() else "time"
        return await self._race(asyncio.ensure_future(asyncio.sleep(delay)), stop)

    async def _race(self, timer: asyncio.Future[None], stop: asyncio.Event | None) -> Outcome:
        waits: set[asyncio.Future[Any]] = {timer, asyncio.ensure_future(self.hungup.wait())}
        if stop is not None:
            waits.add(asyncio.ensure_future(stop.wait()))
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if self.hungup.is_set():
            return "hangup"
        if stop is not None and stop.is_set():
            return "stop"
        return "time"

    def now_ms(self, fork: AudioFork | None) -> float:
        """Media time now: ``fork``'s audio clock, else scaled wall time."""
        if fork is not None:
            return fork.clock_ms
        now = asyncio.get_running_loop().time() * 1000
        return now / self.scale if self.scale > 0 else 0.0
