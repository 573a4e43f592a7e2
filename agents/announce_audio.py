"""The queue announcement's audio from the prompt cache (adapter of
:class:`agents.announcer.AnnouncementAudio`): the text ``IVR_FLOOR_ANNOUNCE_TEXT`` with the
position and minutes filled in, synthesised once per (position, minutes) and cached on disk
(it names no customer). The TTS engine is built on first use."""

from __future__ import annotations

from pathlib import Path

from ivr.settings import Settings
from speech.cache import PromptCache


class PromptAnnouncements:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._cache: PromptCache | None = None

    async def file_for(self, position: int, minutes: int) -> str:
        if self._cache is None:
            from speech.factory import build_prompt_cache

            self._cache = build_prompt_cache(self._settings)
        text = self._settings.floor_announce_text.format(position=position, minutes=minutes)
        await self._cache.get(text, sensitive=False)
        path: Path = self._cache.path_for(text)
        return str(path)
