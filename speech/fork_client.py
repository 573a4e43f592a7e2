"""A small mod_audio_fork-style client: streams a recording to an audio fork server.

What FreeSWITCH does with ``uuid_audio_fork <uuid> start <url> mono 8k <metadata>``: connect
(sub-protocol ``audio.drachtio.org``), send the metadata as a text frame, then 20 ms binary L16
frames, then close. Used by tests, the bench and the FreeSWITCH simulator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import websockets
from websockets.typing import Subprotocol

from speech.audio import Audio

FrameHook = Callable[[int, float], Awaitable[None]]


async def fork_audio(
    url: str,
    audio: Audio,
    metadata: dict[str, Any] | None = None,
    *,
    frame_ms: int = 20,
    realtime: bool = False,
    on_frame: FrameHook | None = None,
) -> None:
    """Send ``audio`` to ``url`` as FreeSWITCH's fork would.

    ``realtime`` paces frames at the audio clock; ``on_frame(index, t_s)`` is awaited after each
    frame (a test can start/stop prompts at given audio times there).
    """
    step = 2 * audio.sample_rate * frame_ms // 1000
    async with websockets.connect(url, subprotocols=[Subprotocol("audio.drachtio.org")]) as ws:
        await ws.send(json.dumps(metadata or {}))
        loop = asyncio.get_running_loop()
        started = loop.time()
        for index, start in enumerate(range(0, len(audio.pcm), step)):
            await ws.send(audio.pcm[start : start + step])
            t_s = (start + step) / 2 / audio.sample_rate
            if on_frame is not None:
                await on_frame(index, t_s)
            if realtime:
                delay = started + t_s - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
