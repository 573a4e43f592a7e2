"""Several ESL workers behind one FreeSWITCH, and graceful drain: workers share one port with
SO_REUSEPORT and both take calls; a worker told to stop refuses new calls at once but lets the
running ones finish (no call cut), and only a call still running at the end of the drain time
is cut."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers.evidence import MemorySink
from helpers.wait import eventually
from tel_support import TEST_CONFIG

from telephony.server import OutboundServer
from telephony.session import CallSession
from telephony.simulator import CallerScript, SimulatedCall


async def answer_and_hang_up(session: CallSession) -> None:
    await session.answer()
    await session.play("tone_stream://%(200,0,440)")
    await session.hangup()


async def test_two_workers_on_one_port_both_take_calls(tmp_path: Path) -> None:
    first = OutboundServer(answer_and_hang_up, MemorySink(), TEST_CONFIG)
    second = OutboundServer(answer_and_hang_up, MemorySink(), TEST_CONFIG)
    host, port = await first.start("127.0.0.1", 0, reuse_port=True)
    await second.start(host, port, reuse_port=True)
    try:
        calls = [
            SimulatedCall(CallerScript(), time_scale=0.001, record_dir=tmp_path) for _ in range(40)
        ]
        results = await asyncio.gather(*(c.run(host, port, deadline_s=30) for c in calls))
        await first.wait_idle()
        await second.wait_idle()
        assert not any(r.timed_out for r in results)
        assert first.stats.completed + second.stats.completed == 40
        assert first.stats.completed > 0 and second.stats.completed > 0  # the kernel spread them
    finally:
        await first.close()
        await second.close()


class HeldCalls:
    """A handler whose calls stay up until the test releases them."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.answered = 0

    async def __call__(self, session: CallSession) -> None:
        await session.answer()
        self.answered += 1
        await self.release.wait()
        await session.hangup()


async def refuses_connections(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return True
    writer.close()
    return False


async def test_drain_refuses_new_calls_and_lets_running_calls_finish(tmp_path: Path) -> None:
    handler = HeldCalls()
    server = OutboundServer(handler, MemorySink(), TEST_CONFIG)
    host, port = await server.start("127.0.0.1", 0)
    calls = [SimulatedCall(CallerScript(), time_scale=0.001, record_dir=tmp_path) for _ in range(3)]
    running = [asyncio.create_task(c.run(host, port, deadline_s=30)) for c in calls]
    await eventually(lambda: handler.answered == 3)
    drain = asyncio.create_task(server.drain(grace_s=30))
    await eventually(lambda: not server.accepting)
    assert await refuses_connections(host, port)  # new calls go to the other workers
    assert not drain.done() and server.stats.active == 3  # nobody was cut meanwhile
    handler.release.set()
    assert await asyncio.wait_for(drain, 30) == 0
    results = await asyncio.gather(*running)
    assert server.stats.completed == 3 and server.stats.aborted == 0
    assert all(r.hangup_cause == "NORMAL_CLEARING" for r in results)


async def test_a_call_outlasting_the_drain_time_is_cut_and_counted(tmp_path: Path) -> None:
    handler = HeldCalls()
    server = OutboundServer(handler, MemorySink(), TEST_CONFIG)
    host, port = await server.start("127.0.0.1", 0)
    call = asyncio.create_task(
        SimulatedCall(CallerScript(), time_scale=0.001, record_dir=tmp_path).run(
            host, port, deadline_s=30
        )
    )
    await eventually(lambda: handler.answered == 1)
    assert await server.drain(grace_s=0.2) == 1
    await asyncio.wait_for(call, 30)


@pytest.mark.parametrize("argv", [["serve", "--workers", "2"], ["serve", "--workers=2"]])
def test_worker_processes_get_the_same_arguments_with_reuse_port(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from telephony import __main__ as entry

    started: list[list[str]] = []

    class FakeProcess:
        def __init__(self, command: list[str]) -> None:
            started.append(command)

        def wait(self) -> int:
            return 0

        def poll(self) -> int:
            return 0

    monkeypatch.setattr("telephony.__main__.subprocess.Popen", FakeProcess)
    assert entry.run_workers(2, [*argv, "--port", "9000"]) == 0
    assert len(started) == 2
    assert started[0][-6:] == ["serve", "--port", "9000", "--workers", "1", "--reuse-port"]
