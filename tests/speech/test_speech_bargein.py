"""Barge-in decisions (pure logic) and the per-call audio pipeline on real audio.

inv4: a disclosure or mandatory risk warning is never interrupted by caller speech.
"""

from __future__ import annotations

import pytest
from speech_support import FIXTURES

from ivr.errors import DependencyUnavailableError
from speech.audio import frames, read_wav
from speech.bargein import (
    BargeInConfig,
    BargeInController,
    CaptureUtterance,
    PromptKind,
    SpeechIgnored,
    StopPrompt,
)
from speech.fakes import ScriptedASR
from speech.ports import VadEvent, VadEventKind
from speech.stream_server import (
    CallAudio,
    Recognised,
    RecognitionFailed,
    StreamClosed,
    Utterance,
    wait_closed,
)
from speech.vad import EndpointerConfig, make_vad

START, END = VadEventKind.SPEECH_START, VadEventKind.SPEECH_END


def _run(controller: BargeInController, speech: tuple[float, float], until: float) -> list[object]:
    """Speech from speech[0] to speech[1]; ticks every 20 ms up to ``until``."""
    actions: list[object] = []
    t = 0.0
    while t <= until + 1e-9:
        if abs(t - speech[0]) < 1e-6:
            actions += controller.on_vad(VadEvent(START, t))
        if abs(t - speech[1]) < 1e-6:
            actions += controller.on_vad(VadEvent(END, t))
        elif speech[0] <= t < speech[1]:
            actions += controller.tick(t)
        t = round(t + 0.02, 2)
    return actions


@pytest.mark.parametrize("kind", [PromptKind.DISCLOSURE, PromptKind.RISK_WARNING])
def test_inv4_locked_prompts_never_interrupted(kind: PromptKind) -> None:
    c = BargeInController()
    c.prompt_started("p1", kind, node_allows_barge_in=True, t_s=0.0)
    assert not c.barge_in_enabled
    actions = _run(c, (1.0, 2.0), 3.0)
    assert not any(isinstance(a, StopPrompt) for a in actions)
    assert not any(isinstance(a, CaptureUtterance) for a in actions)
    assert actions == [SpeechIgnored("p1", kind, 1.0)]
    assert c.prompt_playing


def test_inv4_effective_setting() -> None:
    for kind in PromptKind:
        assert not BargeInController.allows_barge_in(kind, False)
        expected = kind not in (PromptKind.DISCLOSURE, PromptKind.RISK_WARNING)
        assert BargeInController.allows_barge_in(kind, True) is expected


def test_menu_stops_after_min_speech_and_captures() -> None:
    c = BargeInController(BargeInConfig(min_speech_s=0.25))
    c.prompt_started("menu", PromptKind.MENU, node_allows_barge_in=True, t_s=0.0)
    actions = _run(c, (1.0, 2.0), 2.5)
    assert actions[0] == StopPrompt("menu", 1.26)
    assert actions[1] == CaptureUtterance(1.0, 2.0, barged_in=True)
    assert not c.prompt_playing


def test_short_noise_does_not_stop_prompt() -> None:
    c = BargeInController(BargeInConfig(min_speech_s=0.25))
    c.prompt_started("menu", PromptKind.MENU, True, 0.0)
    assert _run(c, (1.0, 1.1), 2.0) == []
    assert c.prompt_playing


def test_node_without_barge_in_keeps_playing_then_captures_nothing_overlapping() -> None:
    c = BargeInController()
    c.prompt_started("info", PromptKind.INFO, node_allows_barge_in=False, t_s=0.0)
    actions = _run(c, (0.5, 1.0), 1.5)
    assert actions == [SpeechIgnored("info", PromptKind.INFO, 0.5)]


def test_speech_running_past_a_locked_prompt_is_captured_from_its_end() -> None:
    c = BargeInController()
    c.prompt_started("disc", PromptKind.DISCLOSURE, True, 0.0)
    actions = c.on_vad(VadEvent(START, 2.0))
    actions += c.prompt_finished(2.5)
    actions += c.on_vad(VadEvent(END, 3.5))
    assert actions == [
        SpeechIgnored("disc", PromptKind.DISCLOSURE, 2.0),
        CaptureUtterance(2.5, 3.5, barged_in=False),
    ]


def test_turn_without_prompt_is_captured() -> None:
    c = BargeInController()
    assert c.on_vad(VadEvent(START, 0.3)) == []
    assert c.on_vad(VadEvent(END, 1.3)) == [CaptureUtterance(0.3, 1.3, barged_in=False)]


def test_grace_period_ignores_speech_at_prompt_start() -> None:
    c = BargeInController(BargeInConfig(min_speech_s=0.1, grace_s=0.5))
    c.prompt_started("menu", PromptKind.MENU, True, 1.0)
    assert c.on_vad(VadEvent(START, 1.1)) == []
    assert c.tick(1.4) == []
    assert c.prompt_playing


def _call(asr: ScriptedASR | None = None) -> CallAudio:
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=500))
    return CallAudio("uuid-1", 8000, vad, asr=asr)


async def test_call_audio_barges_into_menu_on_real_speech() -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav")
    asr = ScriptedASR(["喂你好", "行那你介绍一下吧"])
    call = _call(asr)
    call.prompt_started("menu", PromptKind.MENU, node_allows_barge_in=True)
    for frame in frames(audio.pcm, 8000, 20):
        call.feed(frame)
    call.close()
    events = await wait_closed(call)
    stops = [e for e in events if isinstance(e, StopPrompt)]
    utterances = [e for e in events if isinstance(e, Utterance)]
    recognised = [e for e in events if isinstance(e, Recognised)]
    assert len(stops) == 1 and 1.2 <= stops[0].at_s <= 1.5
    assert [u.barged_in for u in utterances] == [True, False]
    assert 0.6 <= utterances[0].audio.duration_s <= 1.3
    assert sorted(r.transcript.text for r in recognised) == ["喂你好", "行那你介绍一下吧"]
    assert isinstance(events[-1], StreamClosed) or any(isinstance(e, StreamClosed) for e in events)


async def test_call_audio_disclosure_is_not_interrupted() -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav")
    call = _call()
    call.prompt_started("disc", PromptKind.DISCLOSURE, node_allows_barge_in=True)
    for index, frame in enumerate(frames(audio.pcm, 8000, 20)):
        call.feed(frame)
        if index == 150:  # disclosure ends at 3.02 s, after the first utterance
            call.prompt_finished()
    call.close()
    events = await wait_closed(call)
    assert not any(isinstance(e, StopPrompt) for e in events)
    assert any(isinstance(e, SpeechIgnored) and e.kind is PromptKind.DISCLOSURE for e in events)
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1 and utterances[0].start_s > 3.5  # only the second one


async def test_asr_failure_becomes_an_event() -> None:
    class DownASR(ScriptedASR):
        async def transcribe(self, audio, context=None):
            raise DependencyUnavailableError("FunASR server unreachable")

    call = _call(DownASR())
    audio = read_wav(FIXTURES / "a02.wav") + read_wav(FIXTURES / "silence_3s.wav")
    for frame in frames(audio.pcm, 8000, 20):
        call.feed(frame)
    call.close()
    events = await wait_closed(call)
    failed = [e for e in events if isinstance(e, RecognitionFailed)]
    assert len(failed) == 1 and "unreachable" in failed[0].reason
