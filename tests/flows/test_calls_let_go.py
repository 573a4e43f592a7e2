"""After a call: the channel is let go as soon as its end is recorded, not after the after-call
work. Sealing the recording into the vault and the whole-call QA wait their turn in a busy
process (the fault soak held hung-up calls 13-30 s, and past the switch's patience under more
load); FreeSWITCH must not keep the hung-up channel lingering meanwhile. The work still runs to
its end (the recording is stored, the QA result written) and the server waits for it, without
counting the connection the app closed as a failure."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flow_support import FlowStack, stack_settings

from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.call import CallFacts
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.evidence import EvidenceKind
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, SimulatedCall, Turn

DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
NO_BOT = "http://127.0.0.1:1"  # these callers press keys or hang up: no bot needed


@dataclass
class HeldRecordings:
    """The real vault adapter, held until :attr:`release` (the after-call work waits its turn)."""

    inner: object
    release: asyncio.Event = field(default_factory=asyncio.Event)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    stored: list[str] = field(default_factory=list)

    async def store(self, wav: Path, call: CallFacts, ended_at: datetime) -> None:
        self.started.set()
        await self.release.wait()
        await self.inner.store(wav, call, ended_at)  # type: ignore[attr-defined]
        self.stored.append(call.call_id)


@pytest.fixture
async def stack(tmp_path: Path, prompt_cache_dir: Path) -> AsyncIterator[FlowStack]:
    flows_dir = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
    settings = stack_settings(tmp_path, NO_BOT, prompt_cache_dir)
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir)
    )
    flow_stack = FlowStack(built, settings, flows_dir, tmp_path / "fs")
    flow_stack.use(clock=lambda: DAYTIME)
    yield flow_stack
    await built.aclose()


@pytest.mark.parametrize(
    "turns",
    [(Turn.hang_up(),), (Turn.press("0"),)],
    ids=["caller_hangs_up", "handed_to_a_queue"],
)
async def test_the_channel_is_let_go_before_the_recording_is_sealed(
    stack: FlowStack, turns: tuple[Turn, ...]
) -> None:
    held = HeldRecordings(stack.deps.recordings)
    stack.use(recordings=held)
    deps = stack.deps
    server = OutboundServer(CallOrchestrator(deps), deps.evidence, ServerConfig(reply_timeout_s=10))
    host, port = await server.start("127.0.0.1", 0)
    try:
        sim = SimulatedCall(
            CallerScript(caller="13912345678", turns=turns, agent_talk_ms=200),
            write_requested_paths=True,
        )
        sim.channel.variables["ivr_flow"] = "inbound_service"
        result = await sim.run(host, port, deadline_s=20)
        # the switch saw the call end and the socket close while the sealing still waited
        assert not result.timed_out, "the app held the hung-up channel until its sealing ran"
        assert result.got_exit and held.stored == []
        kinds = [e.kind for e in deps.evidence.entries(call_id=result.uuid)]  # type: ignore[attr-defined]
        assert EvidenceKind.CALL_ENDED in kinds and EvidenceKind.RECORDING_STORED not in kinds
        await asyncio.wait_for(held.started.wait(), 10)  # the sealing is next, and waits
        assert server.stats.active == 1  # the server still runs the call's after-call work
        held.release.set()
        await server.wait_idle()  # the after-call work ran to its end
    finally:
        await server.close()
    assert held.stored == [result.uuid]
    kinds = [e.kind for e in deps.evidence.entries(call_id=result.uuid)]  # type: ignore[attr-defined]
    assert EvidenceKind.RECORDING_STORED in kinds and EvidenceKind.QA_RESULT in kinds
    assert EvidenceKind.CALL_ABORTED not in kinds
    assert server.stats.completed == 1 and server.stats.aborted == 0
