"""A streaming adapter for recognisers that only decode whole utterances."""

from __future__ import annotations

from typing import Protocol

from speech.audio import Audio
from speech.context import ListenContext
from speech.ports import Transcript


class _UtteranceASR(Protocol):
    async def transcribe(
        self, audio: Audio, context: ListenContext | None = None
    ) -> Transcript: ...


class BufferedStream:
    """Buffers the caller's turn and decodes it when the turn ends (no partial results)."""

    def __init__(
        self, asr: _UtteranceASR, sample_rate: int, context: ListenContext | None = None
    ) -> None:
        self._asr = asr
        self._context = context
        self._rate = sample_rate
        self._pcm = bytearray()

    async def feed(self, pcm: bytes) -> list[Transcript]:
        """Buffer frames; a whole-utterance recogniser has no partials."""
        self._pcm.extend(pcm)
        return []

    async def finish(self) -> Transcript:
        """Decode the buffered turn."""
        return await self._asr.transcribe(Audio(bytes(self._pcm), self._rate), self._context)
