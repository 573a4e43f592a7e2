"""Streaming mode: a mod_audio_fork-style client pushes L16 frames to the audio fork server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import websockets
from speech_support import FIXTURES

from speech.audio import read_wav
from speech.bargein import PromptKind, StopPrompt
from speech.fakes import ScriptedASR
from speech.fork_client import fork_audio
from speech.ports import VadEvent, VadEventKind
from speech.stream_server import AudioForkServer, Recognised, Utterance, wait_closed
from speech.vad import EndpointerConfig, make_vad


@pytest.fixture
async def server() -> AsyncIterator[AudioForkServer]:
    srv = AudioForkServer(
        lambda rate: make_vad("webrtc", rate, EndpointerConfig(end_ms=500)),
        asr=ScriptedASR(["喂你好", "行那你介绍一下吧"]),
    )
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


async def test_fork_stream_to_utterances_and_transcripts(server: AudioForkServer) -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav")
    waiter = asyncio.create_task(server.call("call-1"))
    await fork_audio(f"{server.url}/audio/call-1", audio, {"uuid": "call-1", "caller": "masked"})
    call = await waiter
    assert call.metadata["caller"] == "masked" and call.sample_rate == 8000
    events = await asyncio.wait_for(wait_closed(call), 10)
    kinds = [e.kind for e in events if isinstance(e, VadEvent)]
    assert kinds == [VadEventKind.SPEECH_START, VadEventKind.SPEECH_END] * 2
    utterances = [e for e in events if isinstance(e, Utterance)]
    assert len(utterances) == 2
    assert 0.95 <= utterances[0].start_s <= 1.2 and 3.7 <= utterances[1].start_s <= 4.0
    texts = sorted(e.transcript.text for e in events if isinstance(e, Recognised))
    assert texts == ["喂你好", "行那你介绍一下吧"]
    assert call.now_s == pytest.approx(audio.duration_s, abs=0.02)


async def test_barge_in_over_the_fork(server: AudioForkServer) -> None:
    audio = read_wav(FIXTURES / "a_sil_pattern.wav").slice(0, 3.0)
    sent = asyncio.create_task(fork_audio(f"{server.url}/audio/call-2?rate=8000", audio, {}))
    call = await server.call("call-2")
    call.prompt_started("menu-1", PromptKind.MENU, node_allows_barge_in=True)
    await sent
    events = await asyncio.wait_for(wait_closed(call), 10)
    stops = [e for e in events if isinstance(e, StopPrompt)]
    assert len(stops) == 1 and stops[0].prompt_id == "menu-1"


async def test_16k_fork_from_metadata(server: AudioForkServer) -> None:
    audio = read_wav(FIXTURES / "a02.wav").resampled(16000)
    waiter = asyncio.create_task(server.call("call-3"))
    await fork_audio(f"{server.url}/audio/", audio, {"uuid": "call-3", "sampleRate": "16k"})
    call = await waiter
    events = await asyncio.wait_for(wait_closed(call), 10)
    assert call.sample_rate == 16000
    assert any(isinstance(e, Utterance) for e in events)


async def test_bad_metadata_closes_with_protocol_error(server: AudioForkServer) -> None:
    async with websockets.connect(f"{server.url}/audio/call-4") as ws:
        await ws.send("not json")
        with pytest.raises(websockets.ConnectionClosed) as info:
            await asyncio.wait_for(ws.recv(), 5)
    assert info.value.rcvd is not None and info.value.rcvd.code == 1002
