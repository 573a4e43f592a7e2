"""Prompt cache: synthesised audio on disk (and in memory) keyed by engine, voice and text.

Static prompts (disclosure, consent question, risk warnings, menus) are synthesised ahead of
time with :meth:`PromptCache.warm` at start-up, so a call never waits for their TTS; dynamic
text is synthesised on demand and cached too. The key is SHA-256 of the TTS's
``cache_identity`` (engine, engine version, voice, parameters), the sample rate and the text, so
changing any of them never serves stale audio. Files hold only audio: the text is not stored.
Text marked ``sensitive`` (it carries customer data) stays in memory only, never on disk.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import ConfigError
from speech.audio import Audio, read_wav, wav_bytes
from speech.ports import TTS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class WarmReport:
    """What :meth:`PromptCache.warm` did."""

    total: int
    synthesized: int
    already_cached: int


@dataclass
class CacheStats:
    """Counters since start (for metrics and the bench)."""

    memory_hits: int = 0
    disk_hits: int = 0
    misses: int = 0


class PromptCache:
    """Disk + memory cache in front of one TTS engine, at one sample rate."""

    def __init__(
        self, tts: TTS, directory: Path, sample_rate: int = 8000, memory_items: int = 512
    ) -> None:
        self.tts = tts
        self.directory = directory
        self.sample_rate = sample_rate
        self.memory_items = memory_items
        self.stats = CacheStats()
        self._memory: OrderedDict[str, Audio] = OrderedDict()
        self._locks: dict[str, asyncio.Lock] = {}

    def key(self, text: str) -> str:
        """The cache key of ``text`` for this engine, voice and sample rate."""
        material = f"{self.tts.cache_identity}\n{self.sample_rate}\n{text}"
        return hashlib.sha256(material.encode("utf-8")).hexdigest()

    def path_for(self, text: str) -> Path:
        """Where the audio of ``text`` is (or would be) stored."""
        k = self.key(text)
        return self.directory / self.tts.name / k[:2] / f"{k}.wav"

    def _remember(self, key: str, audio: Audio) -> None:
        self._memory[key] = audio
        self._memory.move_to_end(key)
        while len(self._memory) > self.memory_items:
            self._memory.popitem(last=False)

    def lookup(self, text: str) -> Audio | None:
        """Cached audio without synthesising (memory, then disk); None on a miss."""
        k = self.key(text)
        audio = self._memory.get(k)
        if audio is not None:
            self._memory.move_to_end(k)
            self.stats.memory_hits += 1
            return audio
        path = self.path_for(text)
        if path.is_file():
            try:
                audio = read_wav(path)
            except (ConfigError, ValueError):  # corrupt file: a miss, re-synthesised
                log.warning("unreadable prompt cache entry %s, discarding", path.name)
                path.unlink(missing_ok=True)
                return None
            self.stats.disk_hits += 1
            self._remember(k, audio)
            return audio
        return None

    def contains(self, text: str) -> bool:
        """Whether the audio of ``text`` is cached (memory or disk)."""
        return self.key(text) in self._memory or self.path_for(text).is_file()

    def _store(self, text: str, audio: Audio) -> None:
        path = self.path_for(text)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(wav_bytes(audio))
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    async def get(self, text: str, *, sensitive: bool = False) -> Audio:
        """The audio of ``text``: cached, or synthesised now and cached.

        Concurrent requests for the same text synthesise it once. ``sensitive`` text (customer
        data in it) is kept in memory only.
        """
        audio = self.lookup(text)
        if audio is not None:
            return audio
        k = self.key(text)
        lock = self._locks.setdefault(k, asyncio.Lock())
        async with lock:
            audio = self.lookup(text)
            if audio is not None:
                return audio
            self.stats.misses += 1
            audio = await self.tts.synthesize(text, self.sample_rate)
            if audio.sample_rate != self.sample_rate:
                audio = audio.resampled(self.sample_rate)
            if not sensitive:
                await asyncio.to_thread(self._store, text, audio)
            self._remember(k, audio)
        self._locks.pop(k, None)
        return audio

    async def warm(self, texts: Iterable[str]) -> WarmReport:
        """Make sure every text is cached on disk (static prompts, at start-up)."""
        unique = list(dict.fromkeys(t for t in texts if t.strip()))
        synthesized = 0
        for text in unique:
            if self.contains(text):
                continue
            await self.get(text)
            synthesized += 1
        log.info(
            "prompt cache warm: %d prompts, %d synthesised (engine %s)",
            len(unique),
            synthesized,
            self.tts.name,
        )
        return WarmReport(len(unique), synthesized, len(unique) - synthesized)


class CachedTTS:
    """A :class:`~speech.ports.TTS` that answers from a :class:`PromptCache` per sample rate."""

    def __init__(self, tts: TTS, directory: Path) -> None:
        self.inner = tts
        self.name = tts.name
        self.voice = tts.voice
        self._directory = directory
        self._caches: dict[int, PromptCache] = {}

    @property
    def cache_identity(self) -> str:
        return self.inner.cache_identity

    def cache(self, sample_rate: int = 8000) -> PromptCache:
        """The cache for one sample rate."""
        if sample_rate not in self._caches:
            self._caches[sample_rate] = PromptCache(self.inner, self._directory, sample_rate)
        return self._caches[sample_rate]

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        return await self.cache(sample_rate).get(text)
