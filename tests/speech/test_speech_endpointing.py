"""Turn ending: per-state silence, speculative recognition, hesitations never end a turn early,
and the streamed call hears each turn once, biased by what the dialogue expects."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from speech.audio import Audio
from speech.context import ALWAYS, ListenState, expect
from speech.endpointing import EndpointPolicy, EndTurn, Speculate, TurnEnder, is_hesitation
from speech.fakes import ScriptedASR
from speech.ports import VadEvent, VadEventKind
from speech.stream_server import CallAudio, Recognised, Utterance, wait_closed
from speech.vad import EndpointerConfig, make_vad


def test_fillers_are_hesitations_and_answers_are_not() -> None:
    for text in ("嗯", "嗯，", "那个", "呃呃", "嗯 那个", ""):
        assert is_hesitation(text), text
    for text in ("不需要", "嗯不需要", "好的", "可以", "别再打了", "嗯嗯好的"):
        assert not is_hesitation(text), text


def test_context_biases_for_refusals_everywhere_and_consent_answers_at_the_question() -> None:
    consent = expect("consent")
    assert consent.state is ListenState.CONSENT
    assert "不需要" in consent.hotwords and set(ALWAYS) <= set(consent.hotwords)
    menu = expect(ListenState.MENU, ("账单", "挂失"))
    assert menu.hotwords[:2] == ("账单", "挂失") and set(ALWAYS) <= set(menu.hotwords)
    assert "不需要" not in expect("converse").hotwords
    assert consent.end_silence_ms is not None and consent.end_silence_ms < 600


def frames(ender: TurnEnder, silences: list[float]) -> list[list[Speculate | EndTurn]]:
    """Drive the ender through one segment starting at 1.0 s, speech ending at 2.0 s."""
    return [ender.on_frame(True, 1.0, 2.0, s) for s in silences]


def test_speculates_at_the_first_pause_then_ends_after_the_state_silence() -> None:
    ender = TurnEnder(EndpointPolicy(end_silence_ms=400, speculate_ms=200))
    out = frames(ender, [0.1, 0.2])
    assert out[0] == [] and out[1] == [Speculate(1.0, 2.0)]
    assert frames(ender, [0.3, 0.4, 0.5]) == [[], [], []]  # transcript not in yet: wait
    ender.speculation_done((1.0, 2.0), "不需要")
    assert frames(ender, [0.52]) == [[EndTurn()]]


def test_a_hesitation_never_ends_the_turn_early() -> None:
    ender = TurnEnder(EndpointPolicy(end_silence_ms=400, speculate_ms=200))
    frames(ender, [0.2])
    ender.speculation_done((1.0, 2.0), "嗯，")
    assert all(a == [] for a in frames(ender, [0.4, 0.6, 0.8]))  # the VAD's own end applies


def test_speech_that_resumes_makes_the_speculation_stale() -> None:
    ender = TurnEnder(EndpointPolicy(end_silence_ms=400, speculate_ms=200))
    frames(ender, [0.2])
    assert ender.on_frame(True, 1.0, 2.5, 0.0) == []  # caller goes on talking
    ender.speculation_done((1.0, 2.0), "不需要")  # late result for the old span: ignored
    assert ender.on_frame(True, 1.0, 2.5, 0.45) == [Speculate(1.0, 2.5)]
    assert ender.on_frame(True, 1.0, 2.5, 0.5) == []


def _tone_turns(gap_s: float) -> Audio:
    """Two bursts of speech-like noise separated by ``gap_s`` of silence, then silence."""
    import numpy as np

    rng = np.random.default_rng(3)
    t = np.arange(8000) / 8000
    burst = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + 0.5 * np.sin(2 * np.pi * 4 * t))
    burst = burst + 0.05 * rng.standard_normal(len(t))
    quiet = Audio.silence(0.5)
    return (
        quiet
        + Audio.from_samples(burst, 8000)
        + Audio.silence(gap_s)
        + Audio.from_samples(burst, 8000)
        + Audio.silence(1.5)
    )


async def _run(call: CallAudio, audio: Audio) -> list[Any]:
    for start in range(0, len(audio.pcm), 320):
        call.feed(audio.pcm[start : start + 320])
        await asyncio.sleep(0)  # let speculative ASR tasks run, as a live call would
    call.close()
    return await asyncio.wait_for(wait_closed(call), 10)


async def test_streamed_turn_ends_early_with_the_speculative_transcript_and_context() -> None:
    asr = ScriptedASR(default="不需要")
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=900))
    call = CallAudio("c1", 8000, vad, asr=asr, turn_ender=TurnEnder(EndpointPolicy()))
    call.expect(expect("consent"))
    events = await _run(call, _tone_turns(gap_s=1.2))
    ends = [e for e in events if isinstance(e, VadEvent) and e.kind is VadEventKind.SPEECH_END]
    utterances = [e for e in events if isinstance(e, Utterance)]
    recognised = [e for e in events if isinstance(e, Recognised)]
    assert len(utterances) == 2 and len(recognised) == 2
    # each turn was recognised once (the speculation is the final), with the consent context
    assert asr.calls == 2
    assert all(c is not None and c.state is ListenState.CONSENT for c in asr.contexts)
    assert len(ends) == 2


async def test_a_pause_shorter_than_the_hesitation_limit_after_a_filler_is_one_turn() -> None:
    asr = ScriptedASR(["嗯", "嗯 不需要"], default="嗯 不需要")
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=900))
    call = CallAudio("c2", 8000, vad, asr=asr, turn_ender=TurnEnder(EndpointPolicy()))
    events = await _run(call, _tone_turns(gap_s=0.6))
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 1  # "嗯" did not end the turn
    texts = [e.transcript.text for e in events if isinstance(e, Recognised)]
    assert texts == ["嗯 不需要"]


@pytest.mark.parametrize("ender", [None, TurnEnder(EndpointPolicy())])
async def test_without_asr_or_ender_the_vad_alone_ends_turns(ender: TurnEnder | None) -> None:
    vad = make_vad("webrtc", 8000, EndpointerConfig(end_ms=600))
    call = CallAudio("c3", 8000, vad, asr=None, turn_ender=ender)
    events = await _run(call, _tone_turns(gap_s=1.2))
    assert len([e for e in events if isinstance(e, Utterance)]) == 2
