"""The simulator's mod_audio_fork: a channel's caller audio pushed over a WebSocket.

What ``uuid_audio_fork <uuid> start <url> mono 8k <metadata>`` does on FreeSWITCH: connect to
``url`` offering the sub-protocol ``audio.drachtio.org``, send the metadata (if any) as a text
frame, then send the caller's audio as binary frames of 20 ms of 16-bit little-endian mono PCM
at the fork's rate, until ``stop`` or the hang-up closes the socket. Silence goes out while the
caller is quiet; :meth:`AudioFork.speak` queues the caller's speech into the stream.

The frames sent are the channel's media clock (:attr:`AudioFork.clock_ms`): while a fork runs,
the simulated call times its prompts and the caller's timing on it, so prompts and speech stay
in step with the audio the server receives whatever the ``time_scale`` (0 = as fast as
possible, each frame sent as soon as the previous one was written).
"""

from __future__ import annotations

import asyncio
import logging

import websockets
from websockets.typing import Subprotocol

log = logging.getLogger(__name__)

SUBPROTOCOL = Subprotocol("audio.drachtio.org")
FRAME_MS = 20


class AudioFork:
    """One running audio fork of a simulated channel (one per channel, like the media bug)."""

    def __init__(
        self,
        call_uuid: str,
        url: str,
        sample_rate: int,
        metadata: str | None,
        *,
        time_scale: float,
        frame_ms: int = FRAME_MS,
    ) -> None:
        self.call_uuid = call_uuid
        self.url = url
        self.sample_rate = sample_rate
        self.metadata = metadata
        self.scale = time_scale
        self.frame_ms = frame_ms
        self.frame_bytes = 2 * sample_rate * frame_ms // 1000
        self.frames_sent = 0
        self.speech_frames = 0
        self.error: str | None = None
        self.connected = False
        self.ended = False
        self._mouth = bytearray()
        self._stopping = asyncio.Event()
        self._waiters: list[tuple[float, asyncio.Future[None]]] = []

    @property
    def clock_ms(self) -> int:
        """Milliseconds of audio sent so far: the channel's media clock while the fork runs."""
        return self.frames_sent * self.frame_ms

    @property
    def running(self) -> bool:
        """Connecting or streaming (the clock will advance)."""
        return not self.ended

    @property
    def talking(self) -> bool:
        """Whether queued caller speech is still being sent."""
        return bool(self._mouth)

    def speak(self, pcm: bytes) -> int:
        """Queue caller speech (16-bit PCM at :attr:`sample_rate`); returns its length in ms."""
        self._mouth.extend(pcm)
        return len(pcm) * 1000 // (2 * self.sample_rate)

    def stop(self) -> None:
        """``uuid_audio_fork <uuid> stop`` or hang-up: close the socket after the current frame."""
        self._stopping.set()

    def reached(self, clock_ms: float) -> asyncio.Future[None]:
        """A future done once the clock reaches ``clock_ms`` or the fork ends."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.ended or self.clock_ms >= clock_ms:
            future.set_result(None)
        else:
            self._waiters.append((clock_ms, future))
        return future

    def _wake(self, *, everyone: bool = False) -> None:
        keep: list[tuple[float, asyncio.Future[None]]] = []
        for target, future in self._waiters:
            if future.done():
                continue
            if everyone or self.clock_ms >= target:
                future.set_result(None)
            else:
                keep.append((target, future))
        self._waiters = keep

    def _next_frame(self) -> bytes:
        if not self._mouth:
            return bytes(self.frame_bytes)
        frame = bytes(self._mouth[: self.frame_bytes])
        del self._mouth[: self.frame_bytes]
        self.speech_frames += 1
        return frame.ljust(self.frame_bytes, b"\x00")

    async def run(self) -> None:
        """Connect and stream until stopped; failures are kept in :attr:`error`, never raised."""
        try:
            async with websockets.connect(
                self.url, subprotocols=[SUBPROTOCOL], open_timeout=10, max_size=2**20
            ) as ws:
                self.connected = True
                if self.metadata:
                    await ws.send(self.metadata)
                loop = asyncio.get_running_loop()
                started = loop.time()
                while not self._stopping.is_set():
                    await ws.send(self._next_frame())
                    self.frames_sent += 1
                    self._wake()
                    delay = started + self.clock_ms * self.scale / 1000 - loop.time()
                    await asyncio.sleep(max(delay, 0.0))
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            self.error = type(exc).__name__
            log.warning("audio fork of call %s ended: %s", self.call_uuid, self.error)
        finally:
            self.ended = True
            self._wake(everyone=True)
