"""FunASR runtime WebSocket client against a local server speaking the documented protocol.

The stand-in server checks the client's configuration message and answers as the FunASR
runtime does: ``online`` increments while audio arrives, ``2pass-online`` increments plus a
``2pass-offline`` corrected sentence at the end, or one ``offline`` result.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets
from speech_support import FIXTURES
from websockets.asyncio.server import ServerConnection

from ivr.errors import DependencyUnavailableError, LocalProtocolError
from speech.audio import frames, read_wav
from speech.funasr_ws import FunAsrWsASR

SENTENCE = "我要投诉你们的服务"


class FakeFunAsrServer:
    """Answers one character per 0.3 s of audio; validates the protocol."""

    def __init__(self) -> None:
        self.configs: list[dict[str, Any]] = []
        self.audio_bytes = 0
        self.errors: list[str] = []

    async def handler(self, ws: ServerConnection) -> None:
        config = json.loads(await ws.recv())
        self.configs.append(config)
        for key, expected in (("wav_format", "pcm"), ("is_speaking", True)):
            if config.get(key) != expected:
                self.errors.append(f"{key}={config.get(key)!r}")
        mode, rate = config["mode"], int(config["audio_fs"])
        if mode != "offline" and config.get("chunk_size") != [5, 10, 5]:
            self.errors.append("chunk_size")
        sent = 0
        received = 0
        async for message in ws:
            if isinstance(message, bytes):
                received += len(message)
                self.audio_bytes += len(message)
                due = min(len(SENTENCE), int(received / 2 / rate / 0.3))
                if mode in ("online", "2pass") and due > sent:
                    await ws.send(
                        json.dumps(
                            {
                                "mode": "online" if mode == "online" else "2pass-online",
                                "wav_name": config["wav_name"],
                                "text": SENTENCE[sent:due],
                                "is_final": False,
                            }
                        )
                    )
                    sent = due
                continue
            if json.loads(message).get("is_speaking") is False:
                final_mode = {"offline": "offline", "online": "online", "2pass": "2pass-offline"}
                text = SENTENCE if mode != "online" else SENTENCE[sent:]
                await ws.send(
                    json.dumps(
                        {
                            "mode": final_mode[mode],
                            "wav_name": config["wav_name"],
                            "text": text,
                            "is_final": True,
                            "timestamp": "[[100,200]]",
                        }
                    )
                )


@pytest.fixture
async def server() -> AsyncIterator[tuple[FakeFunAsrServer, str]]:
    fake = FakeFunAsrServer()
    async with websockets.serve(fake.handler, "127.0.0.1", 0) as srv:
        port = next(iter(srv.sockets)).getsockname()[1]
        yield fake, f"ws://127.0.0.1:{port}"


@pytest.mark.parametrize("mode", ["offline", "online", "2pass"])
async def test_transcribe_each_mode(server: tuple[FakeFunAsrServer, str], mode: str) -> None:
    fake, url = server
    audio = read_wav(FIXTURES / "a11.wav")
    result = await FunAsrWsASR(url, mode).transcribe(audio)
    assert result.text == SENTENCE and result.is_final
    assert fake.errors == []
    assert fake.configs[0]["mode"] == mode and fake.configs[0]["audio_fs"] == 8000
    assert fake.audio_bytes == len(audio.pcm)


async def test_2pass_stream_partials_then_corrected_final(
    server: tuple[FakeFunAsrServer, str],
) -> None:
    _, url = server
    audio = read_wav(FIXTURES / "a11.wav")
    stream = FunAsrWsASR(url, "2pass", hotwords={"投诉": 20}).open_stream(8000)
    partials = []
    for frame in frames(audio.pcm, 8000, 100):
        partials += await stream.feed(frame)
    final = await stream.finish()
    assert final.text == SENTENCE and final.is_final
    assert partials, "2pass-online increments arrive while audio streams"
    assert all(not p.is_final for p in partials)
    assert all(SENTENCE.startswith(p.text) for p in partials)
    assert len(partials[-1].text) >= len(partials[0].text)


async def test_config_message_carries_hotwords_and_itn() -> None:
    client = FunAsrWsASR("ws://unused", "2pass", hotwords={"投诉": 20}, itn=False)
    message = client.config_message(8000, "turn-1")
    assert message["audio_fs"] == 8000 and message["itn"] is False
    assert json.loads(message["hotwords"]) == {"投诉": 20}
    assert "chunk_size" not in FunAsrWsASR("ws://unused", "offline").config_message(8000, "x")


async def test_unreachable_server_is_a_dependency_error() -> None:
    audio = read_wav(FIXTURES / "a02.wav")
    with pytest.raises(DependencyUnavailableError):
        await FunAsrWsASR("ws://127.0.0.1:9", "offline", timeout_s=2).transcribe(audio)


def test_unknown_mode_rejected() -> None:
    with pytest.raises(LocalProtocolError):
        FunAsrWsASR("ws://x", "3pass")
