"""Ports of the speech package: ASR, TTS and VAD as ``typing.Protocol``s, and their value types.

The call session only sees these. Adapters (faster-whisper, FunASR, PaddleSpeech, espeak-ng,
webrtcvad, silero) live in their own modules and are chosen by :mod:`speech.factory`.

Audio crossing a port is always :class:`speech.audio.Audio`: 16-bit signed little-endian mono
PCM with its sample rate (8000 or 16000 Hz on the telephone side).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from speech.audio import Audio
from speech.context import ListenContext


@dataclass(frozen=True)
class WordTiming:
    """One recognised token with its position in the utterance (seconds from its start)."""

    text: str
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Transcript:
    """The result of recognising one utterance.

    ``confidence`` is in [0, 1] (engine-specific, comparable only within one engine);
    ``start_s``/``end_s`` bound the recognised speech inside the audio; ``is_final`` is false
    for a streaming partial hypothesis; ``clear`` is false when the engine itself judges it did
    not hear the utterance clearly (its words are then a guess: the consent policy never takes
    such an answer as a clear yes or no; engines without that judgement leave it true).
    """

    text: str
    confidence: float = 0.0
    start_s: float = 0.0
    end_s: float = 0.0
    is_final: bool = True
    engine: str = ""
    words: tuple[WordTiming, ...] = field(default_factory=tuple)
    clear: bool = True

    @property
    def is_empty(self) -> bool:
        """True when nothing was recognised (silence, noise)."""
        return not self.text.strip()


@runtime_checkable
class ASRStream(Protocol):
    """One streaming recognition: feed frames as they arrive, read partials, then finish."""

    async def feed(self, pcm: bytes) -> list[Transcript]:
        """Add PCM frames (at the stream's sample rate); return any new partial/final results."""
        ...

    async def finish(self) -> Transcript:
        """End of the caller's turn: return the final result and release the stream."""
        ...


@runtime_checkable
class ASR(Protocol):
    """Speech recognition: one utterance at a time, or a stream of frames."""

    name: str

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        """Recognise one complete utterance; ``context`` (what the dialogue expects now)
        biases the engine by its own means (engines without one ignore it)."""
        ...

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        """Start a streaming recognition for audio at ``sample_rate``."""
        ...


@runtime_checkable
class TTS(Protocol):
    """Speech synthesis: text to telephone PCM."""

    name: str
    voice: str

    @property
    def cache_identity(self) -> str:
        """Everything that changes the audio for a given text (engine, voice, model, params)."""
        ...

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        """Synthesize ``text`` as mono 16-bit PCM at ``sample_rate`` (8000 or 16000)."""
        ...


class VadEventKind(enum.StrEnum):
    """What a VAD noticed."""

    SPEECH_START = "speech_start"
    SPEECH_END = "speech_end"


@dataclass(frozen=True)
class VadEvent:
    """Speech started or ended, ``t_s`` seconds from the start of the stream."""

    kind: VadEventKind
    t_s: float


@runtime_checkable
class VAD(Protocol):
    """Voice activity detection over a stream of PCM frames (stateful, one per stream)."""

    name: str
    sample_rate: int

    def process(self, pcm: bytes) -> list[VadEvent]:
        """Feed PCM of any length; return speech start/end events it completed."""
        ...

    def flush(self) -> list[VadEvent]:
        """End of stream: close an open speech segment."""
        ...

    def reset(self) -> None:
        """Forget all state before an unrelated stream."""
        ...

    @property
    def in_speech(self) -> bool:
        """Whether the stream is currently inside a speech segment."""
        ...
