"""Stream mode's reader of one call's :class:`speech.stream_server.CallAudio` events."""

from __future__ import annotations

import asyncio
from collections import deque

from speech.stream_server import CallAudio, CallEvent, Recognised, RecognitionFailed, StreamClosed


class StreamedAudio:
    """Stream mode: the one reader of a call's :class:`CallAudio` events. Recognised turns that
    arrive while a prompt plays (a barge-in) are kept for the next listen."""

    def __init__(self, audio: CallAudio) -> None:
        self.audio = audio
        self.finals: deque[Recognised | RecognitionFailed] = deque()
        self.closed = False
        self.prompts = 0
        self._getter: asyncio.Future[CallEvent] | None = None

    def next_event(self) -> asyncio.Future[CallEvent]:
        """The pending read of the next event (one at a time; survives a caller's timeout)."""
        if self._getter is None:
            self._getter = asyncio.ensure_future(self.audio.events.get())
        return self._getter

    def take(self) -> CallEvent:
        """The event of the completed :meth:`next_event`."""
        assert self._getter is not None and self._getter.done()
        event, self._getter = self._getter.result(), None
        return event

    def keep(self, event: CallEvent) -> None:
        if isinstance(event, Recognised | RecognitionFailed):
            self.finals.append(event)
        elif isinstance(event, StreamClosed):
            self.closed = True

    def close(self) -> None:
        if self._getter is not None:
            self._getter.cancel()
            self._getter = None
