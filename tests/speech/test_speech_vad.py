"""VAD: both engines find the speech in a recording with known silences, none in silence."""

from __future__ import annotations

import pytest
from speech_support import FIXTURES

from speech.audio import Audio, frames, read_wav
from speech.ports import VadEvent, VadEventKind
from speech.vad import Endpointer, EndpointerConfig, make_vad, pair_events, speech_segments

# Clip boundaries (exact) of a01 and a05 inside a_sil_pattern.wav; voiced parts lie inside.
CLIPS = [(1.0, 1.7375), (3.7375, 5.5875)]


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_finds_segments_with_known_silences(engine: str) -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav")
    segments = speech_segments(audio, make_vad(engine, audio.sample_rate))
    assert len(segments) == 2, segments
    for (start, end), (clip_start, clip_end) in zip(segments, CLIPS, strict=True):
        assert clip_start - 0.05 <= start <= clip_start + 0.25
        assert clip_end - 0.25 <= end <= clip_end + 0.1


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_no_speech_in_silence(engine: str) -> None:
    audio = read_wav(FIXTURES / "silence_3s.wav")
    assert speech_segments(audio, make_vad(engine, 8000)) == []


@pytest.mark.parametrize("engine", ["webrtc", "silero"])
def test_streaming_frames_equal_one_shot(engine: str) -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav")
    vad = make_vad(engine, 8000)
    events: list[VadEvent] = []
    for frame in frames(audio.pcm, 8000, 20):
        events += vad.process(frame)
    events += vad.flush()
    assert pair_events(events) == speech_segments(audio, make_vad(engine, 8000))


def test_vad_at_16k() -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav").resampled(16000)
    assert len(speech_segments(audio, make_vad("webrtc", 16000))) == 2


def test_endpointer_hysteresis() -> None:
    ep = Endpointer(20.0, EndpointerConfig(start_ms=60, end_ms=100))
    events: list[VadEvent] = []
    scores = [0, 1, 1, 0, 0, 0, 0, 0, 0]  # 40 ms blip: too short to start
    scores += [1] * 10 + [0, 0, 1] + [1] * 5 + [0] * 5  # short gap inside speech is bridged
    for s in scores:
        events += ep.push(float(s))
    assert [e.kind for e in events] == [VadEventKind.SPEECH_START, VadEventKind.SPEECH_END]
    assert events[0].t_s == pytest.approx(9 * 0.02)
    assert events[1].t_s == pytest.approx((9 + 18) * 0.02)
    assert ep.flush() == []


def test_endpointer_flush_closes_open_segment() -> None:
    ep = Endpointer(20.0)
    for _ in range(10):
        ep.push(1.0)
    assert ep.in_speech
    assert ep.flush() == [VadEvent(VadEventKind.SPEECH_END, 0.2)]


def test_unknown_engine_rejected() -> None:
    with pytest.raises(ValueError, match="unknown VAD"):
        make_vad("nope")
    assert speech_segments(Audio.silence(0.5), make_vad("webrtc")) == []
