"""Mandatory statements proven on the simulator's calls: the same marketing flow passes QA with
its risk warning and fails without it (FreeSWITCH simulator -> ESL -> orchestrator -> QA)."""

from __future__ import annotations

import dataclasses
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, PROMPTS_FILE, FlowRegistry
from ivr.settings import Settings
from qa.calls import FindingKind, inspect_call
from qa.calls import Turn as QaTurn
from qa.compiled import CompiledRules
from qa.observer import TurnRecorder
from qa.verdict import SpeechContext
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, SimulatedCall, Turn

pytestmark = pytest.mark.slow
FLOWS = Path(__file__).parent / "flows"
DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


async def place(tmp_path: Path, flow: str) -> tuple[list[QaTurn], Settings]:
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    shutil.copy(DEFAULT_FLOWS_DIR / PROMPTS_FILE, flows_dir / PROMPTS_FILE)
    shutil.copy(FLOWS / f"{flow}.yaml", flows_dir / f"{flow}.yaml")
    settings = Settings(
        data_dir=tmp_path / "data", institution_name="测试银行", bot_id="AI-7", rasa_processes=1
    )
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir)
    )
    recorder = TurnRecorder()
    deps = dataclasses.replace(built.deps, observer=recorder, clock=lambda: DAYTIME)
    server = OutboundServer(CallOrchestrator(deps), deps.evidence, ServerConfig(reply_timeout_s=10))
    try:
        host, port = await server.start("127.0.0.1", 0)
        sim = SimulatedCall(
            CallerScript(caller="13912345678", destination="95588", turns=(Turn.press("1"),)),
            time_scale=0,
            write_requested_paths=True,
        )
        sim.channel.variables["ivr_flow"] = flow
        sim.channel.variables["ivr_customer_number"] = "13912345678"
        result = await sim.run(host, port, deadline_s=120)
        await server.wait_idle()
    finally:
        await server.close()
        await built.aclose()
    return recorder.turns(result.uuid), settings


@pytest.mark.parametrize(
    ("flow", "passes"),
    [("qa_marketing_with_warning", True), ("qa_marketing_without_warning", False)],
)
async def test_a_marketing_flow_without_its_risk_warning_fails_qa(
    shipped: CompiledRules, tmp_path: Path, flow: str, passes: bool
) -> None:
    turns, settings = await place(tmp_path, flow)
    assert [t.kind for t in turns][:3] == ["disclosure", "consent", "marketing"]
    ctx = SpeechContext(
        "sim", purpose="marketing", institution=settings.institution_name, agent_id=settings.bot_id
    )
    result = inspect_call(turns, ctx, shipped)
    assert result.passed is passes, result.findings
    if not passes:
        assert [(f.rule, f.kind) for f in result.findings] == [
            ("risk_warning", FindingKind.MISSING)
        ]
