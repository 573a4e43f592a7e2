"""The per-call handler port and the default handler shipped until the flow orchestrator lands."""

from __future__ import annotations

from typing import Protocol

from telephony.session import CallSession

DEFAULT_PROMPT = "tone_stream://%(1000,0,440)"


class CallHandler(Protocol):
    """Runs one call. Returning (or raising :class:`CallEndedError`) ends the session."""

    async def __call__(self, session: CallSession) -> None: ...


class DefaultHandler:
    """Answer, play a short prompt, hang up."""

    def __init__(self, prompt: str = DEFAULT_PROMPT) -> None:
        self.prompt = prompt

    async def __call__(self, session: CallSession) -> None:
        await session.answer()
        await session.play(self.prompt)
        await session.hangup("NORMAL_CLEARING")
