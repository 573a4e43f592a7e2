"""Invariant 6 when the call is cut mid-refusal: the refusal's DNC write runs shielded from the
call's task, so a call cancelled while the write is slow (its connection lost, its maximum
duration, a shutdown) still leaves the number on DNC, and shutdown waits for such writes."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from flows.answers import Answers, refusals_written
from flows.call import CallDeps, CallFacts


class SlowCompliance:
    """A ledger that takes its time: the refusal is durable only once ``release`` is set."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.release = asyncio.Event()
        self.dnc: list[str] = []

    async def record_refusal(self, customer: Any, **kw: Any) -> None:
        self.started.set()
        await self.release.wait()
        self.dnc.append(kw["call_id"])


class Deps:
    def __init__(self, compliance: SlowCompliance) -> None:
        self.compliance = compliance
        self.evidence: list[str] = []

    async def record(self, kind: Any, call: Any, **payload: Any) -> None:
        self.evidence.append(str(kind))


class Call:
    call_id = "call-cut-mid-refusal"
    customer = None


async def test_a_call_cancelled_during_its_refusal_write_still_ends_on_dnc() -> None:
    compliance = SlowCompliance()
    answers = Answers(cast(CallDeps, Deps(compliance)), cast(Any, None), cast(Any, None))
    call_task = asyncio.get_running_loop().create_task(
        answers.record_refusal(cast(CallFacts, Call()), reason="refused_contact")
    )
    await compliance.started.wait()
    call_task.cancel()  # the call is cut while the ledger is slow
    await asyncio.gather(call_task, return_exceptions=True)
    assert call_task.cancelled()
    assert compliance.dnc == []

    waiting = asyncio.get_running_loop().create_task(refusals_written(timeout_s=5.0))
    await asyncio.sleep(0)
    assert not waiting.done()  # shutdown waits for the write in flight
    compliance.release.set()
    assert await waiting == 0
    assert compliance.dnc == ["call-cut-mid-refusal"]


async def test_shutdown_wait_is_bounded_and_says_how_many_are_left() -> None:
    compliance = SlowCompliance()
    answers = Answers(cast(CallDeps, Deps(compliance)), cast(Any, None), cast(Any, None))
    call_task = asyncio.get_running_loop().create_task(
        answers.record_refusal(cast(CallFacts, Call()), reason="refused_contact")
    )
    await compliance.started.wait()
    assert await refusals_written(timeout_s=0.05) == 1
    compliance.release.set()
    await call_task
    assert compliance.dnc == ["call-cut-mid-refusal"]
    assert await refusals_written(timeout_s=0.05) == 0
