"""Stream mode end to end: the orchestrator forks the caller's audio (``uuid_audio_fork``) to the
process's real ``AudioForkServer``, barge-in stops interruptible prompts with ``uuid_break``, and
the caller's turns are the recognised utterances of the stream (``ScriptedASR`` stands in for the
ASR model; it still gates on a real VAD). The real Rasa server does the NLU and the bot."""

from __future__ import annotations

import logging
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from flow_support import CallOutcome, FlowStack, stack_settings

from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.evidence import EvidenceKind
from ivr.phone import CustomerNumber, customer_number
from shell.services import free_port
from speech.fakes import ScriptedASR
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CUSTOMER = "13912345678"


def _customer(raw: str) -> CustomerNumber:
    made = customer_number(raw)
    assert made is not None
    return made


CUSTOMER_NUMBER = _customer(CUSTOMER)
SAMPLES = Path(__file__).resolve().parent.parent / "speech" / "fixtures"
GREETING = SAMPLES / "a02.wav"  # 您好请问哪位
COMPLAINT = SAMPLES / "a11.wav"  # 我要投诉你们的服务
REFUSAL = SAMPLES / "a08.wav"  # 以后别再给我打电话了
# at time_scale 0 the audio clock runs far ahead of the app (speech/README.md): a small scale
# keeps the caller's timing in step with prompts sent back to back
TIME_SCALE = 0.1


class Stack:
    """The flow stack in stream mode, with the scripted ASR behind the audio fork server."""

    def __init__(self, flows: FlowStack, asr: ScriptedASR) -> None:
        self.flows = flows
        self.built = flows.built
        self.asr = asr

    async def place(self, flow: str, turns: tuple[Turn, ...]) -> CallOutcome:
        variables = {"ivr_customer_number": CUSTOMER} if flow.startswith("outbound") else {}
        return await self.flows.place(
            flow,
            CallerScript(caller=CUSTOMER, destination="95588", turns=turns),
            variables=variables,
            time_scale=TIME_SCALE,
        )


@pytest.fixture
async def stack(rasa_stack, tmp_path: Path, prompt_cache_dir: Path) -> AsyncIterator[Stack]:
    flows_dir = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
    settings = stack_settings(
        tmp_path,
        rasa_stack.rasa_url,
        prompt_cache_dir,
        audio_mode="stream",
        audio_stream_port=free_port(),
    )
    asr = ScriptedASR()
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir), stream_asr=asr
    )
    assert built.audio_fork is not None and built.deps.audio_streams is built.audio_fork
    yield Stack(FlowStack(built, settings, flows_dir, tmp_path / "fs-recordings"), asr)
    await built.aclose()


def assert_forked(call: CallOutcome) -> None:
    starts = [a for a in call.api("uuid_audio_fork") if " start " in a]
    assert len(starts) == 1 and "/audio/" in starts[0] and " mono 8k " in starts[0]
    assert call.result.fork_errors == [] and call.result.fork_speech_frames > 0


async def test_barge_in_on_the_menu_by_speech_takes_the_spoken_branch(stack: Stack) -> None:
    stack.asr.push("我要投诉你们的服务")
    call = await stack.place(
        "inbound_service",
        # quiet during the disclosure, then the caller talks over the menu prompt
        (Turn.say(during_prompt=True), Turn.say(COMPLAINT, during_prompt=True)),
    )
    assert_forked(call)
    assert call.result.breaks == 1
    assert call.api("uuid_break") == [f"{call.result.uuid} all"]
    escalated = call.payload(EvidenceKind.ESCALATED)
    assert (escalated["queue"], escalated["priority"]) == ("senior", 9)
    assert call.transfer == "queue_senior XML ivr"
    assert "record" not in call.apps
    assert stack.asr.calls == 1


async def test_inv4_speech_over_the_disclosure_does_not_stop_it(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="flows")
    stack.asr.push("我要投诉你们的服务")
    call = await stack.place(
        "inbound_service",
        (Turn.say(GREETING, during_prompt=True), Turn.say(COMPLAINT, during_prompt=True)),
    )
    assert_forked(call)
    assert call.payload(EvidenceKind.DISCLOSURE_PLAYED)["prompt"] == "disclosure"
    assert call.result.breaks == 1  # the menu, not the disclosure
    assert "caller spoke over the disclosure at node disclosure" in caplog.text
    assert stack.asr.calls == 1  # the speech over the disclosure never became a turn
    assert call.transfer == "queue_senior XML ivr"
    assert CUSTOMER not in caplog.text and "投诉" not in caplog.text  # no customer data


async def test_inv6_spoken_refusal_in_stream_mode_goes_to_dnc(stack: Stack) -> None:
    stack.asr.push("以后别再给我打电话了")
    call = await stack.place("outbound_marketing", (Turn.say(REFUSAL, delay_ms=3000),))
    assert_forked(call)
    assert "consent_refused" in call.kinds()
    entry = await stack.built.compliance.dnc_entry(CUSTOMER_NUMBER)
    assert entry is not None and entry.call_id == call.result.uuid
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "refused"
    assert call.result.breaks == 0


class DeadForkTarget:
    """The process's fork server, but advertised at an address where nothing listens."""

    def __init__(self, inner: object) -> None:
        self.inner = inner
        self.url = f"ws://127.0.0.1:{free_port()}"

    async def call(self, uuid: str, timeout_s: float) -> object:
        return await self.inner.call(uuid, timeout_s)  # type: ignore[attr-defined]


async def test_fork_that_cannot_connect_falls_back_to_record_mode(stack: Stack) -> None:
    import dataclasses
    from datetime import UTC, datetime

    deps = stack.flows.deps
    stack.flows.use(
        audio_streams=DeadForkTarget(deps.audio_streams),
        config=dataclasses.replace(deps.config, stream_connect_s=0.5),
        clock=lambda: datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
    )
    call = await stack.place("inbound_service", (Turn.press("0"),))
    assert call.result.fork_errors  # the switch could not reach the advertised server
    assert "record" in call.apps
    assert call.transfer == "queue_general XML ivr"  # the call went on, in record mode


async def test_digit_pressed_over_the_menu_in_stream_mode_takes_its_branch(stack: Stack) -> None:
    from flows.interpreter import render

    call = await stack.place(
        "inbound_service",
        (Turn.press("", during_prompt=True), Turn.press("1", during_prompt=True, delay_ms=300)),
    )
    assert call.result.fork_frames > 0  # the audio was forked; nobody spoke
    flow = stack.built.deps.registry.get("inbound_service")
    cache = stack.built.deps.prompts.cache  # type: ignore[attr-defined]

    def file_of(prompt_id: str) -> str:
        return str(cache.path_for(render(flow.prompts[prompt_id].text or "", {})).name)

    played = [(c.arg or "").rsplit("/", 1)[-1] for c in call.executed if c.app == "playback"]
    assert played.count(file_of("main_menu")) == 1  # the 1 counted: not asked again
    assert file_of("account_info") in played
    assert "escalated" not in call.kinds()
