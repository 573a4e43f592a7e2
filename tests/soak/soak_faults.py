"""The soak's faults and their schedule: Redis restarted empty, the bot (Rasa + actions, or the
stub) killed and brought back, PostgreSQL restarted, ESL connections dropped, ASR slowed, and the
clock moved into quiet hours and out again.

:class:`Faults` runs the schedule (one cycle of every fault, repeated every ``cycle_s``) and
keeps a :class:`FaultRecord` of each (monotonic start and end), which the audit and the summary
read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from helpers.redis_server import ThrowawayRedis
from soak_calls import InboundLoad
from soak_services import BotServer, PrivatePostgres, SlowListener, SoakClock

SHANGHAI = ZoneInfo("Asia/Shanghai")
CYCLE = ("redis_restart", "bot_kill", "postgres_restart", "esl_drop", "asr_slow", "quiet_hours")


@dataclass
class FaultRecord:
    name: str
    start_mono: float
    end_mono: float = 0.0
    error: str | None = None


@dataclass
class Faults:
    """Everything a fault touches, and the record of what was injected."""

    redis: ThrowawayRedis
    postgres: PrivatePostgres
    bot: BotServer
    listener: SlowListener
    load: InboundLoad
    drop_esl: Callable[[], None]  # the switch aborts its inbound ESL connections (the dialler's)
    clock: SoakClock
    hold_s: float = 2.0
    asr_delay_s: float = 1.5
    records: list[FaultRecord] = field(default_factory=list)
    quiet: list[tuple[float, float]] = field(default_factory=list)  # monotonic spans

    async def inject(self, name: str) -> None:
        record = FaultRecord(name, time.monotonic())
        self.records.append(record)
        try:
            await getattr(self, name)()
        except Exception as exc:
            record.error = f"{type(exc).__name__}: {exc}"
        record.end_mono = time.monotonic()

    async def redis_restart(self) -> None:
        await asyncio.to_thread(self.redis.stop)
        await asyncio.sleep(self.hold_s)
        await asyncio.to_thread(self.redis.start)  # empty: no persistence

    async def bot_kill(self) -> None:
        await asyncio.to_thread(self.bot.kill)
        await asyncio.sleep(self.hold_s)
        await asyncio.to_thread(self.bot.start)

    async def postgres_restart(self) -> None:
        await asyncio.to_thread(self.postgres.stop, "fast")
        await asyncio.sleep(self.hold_s)
        await asyncio.to_thread(self.postgres.start)

    async def esl_drop(self) -> None:
        self.drop_esl()
        before = self.load.drop_rate
        self.load.drop_rate = 0.3
        await asyncio.sleep(self.hold_s * 2)
        self.drop_esl()
        self.load.drop_rate = before

    async def asr_slow(self) -> None:
        self.listener.delay_s = self.asr_delay_s
        await asyncio.sleep(self.hold_s * 2)
        self.listener.delay_s = 0.0

    async def quiet_hours(self) -> None:
        local = self.clock().astimezone(SHANGHAI)
        night = datetime(local.year, local.month, local.day, 22, 30, tzinfo=SHANGHAI)
        start = self.clock.jump(night)
        await asyncio.sleep(self.hold_s * 2)
        morning = (night + timedelta(days=1)).replace(hour=8, minute=30)
        self.quiet.append((start, self.clock.jump(morning)))

    async def run(self, duration_s: float, cycle_s: float, stop: asyncio.Event) -> None:
        """One fault every ``cycle_s / (len(CYCLE) + 1)`` seconds, cycling, until
        ``duration_s`` (the last gap stays calm)."""
        gap = cycle_s / (len(CYCLE) + 1)
        t0 = time.monotonic()
        i = 0
        while True:
            due = t0 + gap * (i + 1)
            if due + gap > t0 + duration_s:
                return
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, due - time.monotonic()))
                return
            except TimeoutError:
                pass
            await self.inject(CYCLE[i % len(CYCLE)])
            i += 1
