"""Ports the call orchestrator depends on (adapters in :mod:`flows.adapters`).

Each is a small ``typing.Protocol`` so the orchestrator can be driven by the real engines in
production and by the FreeSWITCH simulator plus real or scripted engines in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from bot.client import CallMetadata
from bot.directives import Directive


class PromptAudio(Protocol):
    """Text to a playable audio file (cached; ``sensitive`` text never cached on disk)."""

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path: ...


class Listener(Protocol):
    """The caller's recorded turn to text (``""`` when there was no speech)."""

    async def transcribe(self, wav: Path) -> str: ...


class IntentParser(Protocol):
    """Text to an NLU intent name (``None`` when unsure or NLU unavailable)."""

    async def intent(self, text: str) -> str | None: ...


class DialogueBot(Protocol):
    """One caller turn to the bot's directives (raises DependencyUnavailableError)."""

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]: ...


class Webhooks(Protocol):
    """An HTTP call to a CRM / credit / anti-fraud system: JSON object or an error."""

    async def call(
        self, method: str, url: str, body: Mapping[str, Any], timeout_s: float
    ) -> Mapping[str, Any]: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...
