"""Client of the FunASR runtime WebSocket server — how FunASR is deployed in production.

Protocol (FunASR ``runtime/docs/websocket_protocol.md``): the client opens a WebSocket, sends a
JSON configuration (``mode`` offline | online | 2pass, ``wav_name``, ``wav_format: "pcm"``,
``audio_fs``, ``is_speaking: true``, ``chunk_size`` for streaming, ``itn``, ``hotwords``), then
binary PCM frames, then ``{"is_speaking": false}``. The server answers JSON messages with
``mode`` (``offline``, ``online``, ``2pass-online``, ``2pass-offline``), ``text``, ``is_final``,
``wav_name`` and optional ``timestamp``. Online texts are increments of the running hypothesis;
2pass-offline texts are corrected sentences that replace the online increments before them.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from typing import Any, Final

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Subprotocol

from ivr.errors import DependencyUnavailableError, LocalProtocolError, RemoteProtocolError
from speech.audio import Audio
from speech.context import ListenContext
from speech.ports import ASRStream, Transcript
from speech.text import clean_transcript

log = logging.getLogger(__name__)

MODES: Final = ("offline", "online", "2pass")


CONTEXT_HOTWORD_WEIGHT = 20  # the runtime's weight for a dialogue state's expected words


class FunAsrWsASR:
    """FunASR runtime server behind the :class:`~speech.ports.ASR` port."""

    name = "funasr-ws"

    def __init__(
        self,
        url: str,
        mode: str = "2pass",
        *,
        chunk_size: tuple[int, int, int] = (5, 10, 5),
        itn: bool = True,
        hotwords: dict[str, int] | None = None,
        timeout_s: float = 10.0,
        frame_ms: int = 100,
    ) -> None:
        if mode not in MODES:
            raise LocalProtocolError(f"FunASR mode must be one of {MODES}, not {mode!r}")
        self.url = url
        self.mode = mode
        self.chunk_size = chunk_size
        self.itn = itn
        self.hotwords = hotwords or {}
        self.timeout_s = timeout_s
        self.frame_ms = frame_ms

    def config_message(
        self, sample_rate: int, wav_name: str, context: ListenContext | None = None
    ) -> dict[str, Any]:
        """The first message of a session (a context's hotwords join the configured ones)."""
        hotwords = dict(self.hotwords)
        if context is not None:
            for word in context.hotwords:
                hotwords.setdefault(word, CONTEXT_HOTWORD_WEIGHT)
        message: dict[str, Any] = {
            "mode": self.mode,
            "wav_name": wav_name,
            "wav_format": "pcm",
            "audio_fs": sample_rate,
            "is_speaking": True,
            "itn": self.itn,
            "hotwords": json.dumps(hotwords, ensure_ascii=False) if hotwords else "",
        }
        if self.mode != "offline":
            message["chunk_size"] = list(self.chunk_size)
            message["chunk_interval"] = 10
            message["encoder_chunk_look_back"] = 4
            message["decoder_chunk_look_back"] = 0
        return message

    async def transcribe(self, audio: Audio, context: ListenContext | None = None) -> Transcript:
        stream = FunAsrWsStream(self, audio.sample_rate, context)
        step = 2 * audio.sample_rate * self.frame_ms // 1000
        try:
            for start in range(0, len(audio.pcm), step):
                await stream.feed(audio.pcm[start : start + step])
            return await stream.finish()
        finally:
            await stream.close()

    def open_stream(self, sample_rate: int, context: ListenContext | None = None) -> ASRStream:
        return FunAsrWsStream(self, sample_rate, context)


class FunAsrWsStream:
    """One FunASR runtime session (one caller turn)."""

    def __init__(
        self, client: FunAsrWsASR, sample_rate: int, context: ListenContext | None = None
    ) -> None:
        self._client = client
        self._rate = sample_rate
        self._context = context
        self._ws: ClientConnection | None = None
        self._reader: asyncio.Task[None] | None = None
        self._messages: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()
        self._final_parts: list[str] = []  # 2pass-offline / offline sentences
        self._online = ""  # online increments since the last corrected sentence
        self._audio_s = 0.0
        self._finished = False
        self.wav_name = f"turn-{uuid.uuid4().hex[:12]}"

    async def _connect(self) -> ClientConnection:
        if self._ws is not None:
            return self._ws
        try:
            ws = await asyncio.wait_for(
                websockets.connect(
                    self._client.url,
                    subprotocols=[Subprotocol("binary")],
                    ping_interval=None,
                    max_size=None,
                ),
                self._client.timeout_s,
            )
        except (OSError, TimeoutError, websockets.InvalidHandshake) as exc:
            raise DependencyUnavailableError(f"FunASR server unreachable: {exc}") from exc
        self._ws = ws
        await ws.send(
            json.dumps(self._client.config_message(self._rate, self.wav_name, self._context))
        )
        self._reader = asyncio.create_task(self._read(ws))
        return ws

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                if isinstance(raw, bytes):
                    raise RemoteProtocolError("FunASR server sent a binary frame")
                try:
                    message = json.loads(raw)
                except ValueError as exc:
                    raise RemoteProtocolError("FunASR server sent invalid JSON") from exc
                if not isinstance(message, dict) or "text" not in message:
                    raise RemoteProtocolError("FunASR message without text")
                await self._messages.put(message)
        except websockets.ConnectionClosed:
            pass
        finally:
            await self._messages.put(None)

    def _apply(self, message: dict[str, Any]) -> Transcript:
        mode = str(message.get("mode", ""))
        text = str(message.get("text", ""))
        final_sentence = mode in ("offline", "2pass-offline")
        if final_sentence:
            self._final_parts.append(text)
            self._online = ""
        else:
            self._online += text
        return Transcript(
            text=clean_transcript("".join(self._final_parts) + self._online),
            confidence=1.0,
            end_s=round(self._audio_s, 3),
            is_final=False,
            engine=self._client.name,
        )

    def _drain(self) -> list[Transcript]:
        out: list[Transcript] = []
        while not self._messages.empty():
            message = self._messages.get_nowait()
            if message is None:
                self._messages.put_nowait(None)  # keep the end marker for finish()
                break
            out.append(self._apply(message))
        return out

    async def feed(self, pcm: bytes) -> list[Transcript]:
        if self._finished:
            raise LocalProtocolError("stream already finished")
        ws = await self._connect()
        try:
            await ws.send(pcm)
        except websockets.ConnectionClosed as exc:
            raise DependencyUnavailableError("FunASR server closed the connection") from exc
        self._audio_s += len(pcm) / 2 / self._rate
        await asyncio.sleep(0)
        return self._drain()

    async def finish(self) -> Transcript:
        if self._finished:
            raise LocalProtocolError("stream already finished")
        self._finished = True
        ws = await self._connect()
        await ws.send(json.dumps({"is_speaking": False}))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._client.timeout_s
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise DependencyUnavailableError("FunASR server gave no final result in time")
                try:
                    message = await asyncio.wait_for(self._messages.get(), remaining)
                except TimeoutError as exc:
                    raise DependencyUnavailableError(
                        "FunASR server gave no final result in time"
                    ) from exc
                if message is None:
                    if self._reader is not None and self._reader.done():
                        error = self._reader.exception()
                        if error is not None:
                            raise error
                    break
                self._apply(message)
                mode = str(message.get("mode", ""))
                if message.get("is_final") or mode == "offline":
                    break
        finally:
            await self.close()
        text = clean_transcript("".join(self._final_parts) + self._online)
        return Transcript(
            text=text,
            confidence=1.0 if text else 0.0,
            end_s=round(self._audio_s, 3),
            engine=self._client.name,
        )

    async def close(self) -> None:
        """Close the connection (idempotent)."""
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
