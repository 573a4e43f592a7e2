"""Deterministic stand-ins for the speech ports, for tests of the call session and flows.

They pass the same contract tests as the real engines (``tests/speech/test_contracts.py``):
:class:`ScriptedASR` answers queued texts for speech and nothing for silence (gated by a real
VAD, like the whisper adapter); :class:`ToneTTS` renders text as a tone whose length grows with
the text.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

import numpy as np

from speech.audio import TELEPHONE_RATES, Audio
from speech.buffered import BufferedStream
from speech.context import ListenContext
from speech.ports import ASRStream, Transcript
from speech.vad import make_vad, speech_span


class ScriptedASR:
    """Answers the next scripted text for each utterance that contains speech."""

    name = "scripted"

    def __init__(self, texts: Iterable[str] = (), default: str = "") -> None:
        self._texts = deque(texts)
        self.default = default
        self.calls = 0
        self.contexts: list[ListenContext | None] = []  # the context of each call, in order

    def push(self, text: str) -> None:
        """Queue the text of the next utterance."""
        self._texts.append(text)

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        self.calls += 1
        self.contexts.append(context)
        if audio.sample_rate not in (8000, 16000):
            audio = audio.resampled(16000)
        span = speech_span(audio, make_vad("webrtc", audio.sample_rate))
        if span is None:
            return Transcript(text="", engine=self.name)
        text = self._texts.popleft() if self._texts else self.default
        return Transcript(
            text=text,
            confidence=0.99 if text else 0.0,
            start_s=span[0],
            end_s=span[1],
            engine=self.name,
        )

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return BufferedStream(self, sample_rate, context)


class ToneTTS:
    """A 440 Hz tone, 0.15 s per character (plus 0.2 s), at the requested rate."""

    name = "tone"
    voice = "a440"

    @property
    def cache_identity(self) -> str:
        return "tone|a440|v1"

    def __init__(self) -> None:
        self.calls = 0

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        if sample_rate not in TELEPHONE_RATES:
            raise ValueError(f"sample rate must be one of {TELEPHONE_RATES}")
        self.calls += 1
        seconds = 0.2 + 0.15 * len(text.strip())
        t = np.arange(round(seconds * sample_rate)) / sample_rate
        return Audio.from_samples(0.3 * np.sin(2 * np.pi * 440.0 * t), sample_rate)
