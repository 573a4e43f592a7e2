"""One ASR contract for the fake and the real recogniser (Whisper-base)."""

from __future__ import annotations

from typing import Any

import pytest
from speech_support import FIXTURES

from speech.audio import Audio, read_wav
from speech.fakes import ScriptedASR
from speech.ports import ASR, ASRStream


@pytest.fixture(params=["scripted", "whisper"])
def asr(request: pytest.FixtureRequest) -> Any:
    if request.param == "scripted":
        return ScriptedASR(default="我要投诉你们的服务")
    return request.getfixturevalue("whisper_asr")


async def test_asr_contract(asr: Any) -> None:
    assert isinstance(asr, ASR)
    speech = read_wav(FIXTURES / "a11.wav")
    result = await asr.transcribe(speech)
    assert result.is_final and not result.is_empty and result.engine == asr.name
    assert 0.0 <= result.start_s < result.end_s <= speech.duration_s + 1e-6
    assert 0.0 < result.confidence <= 1.0
    silent = await asr.transcribe(Audio.silence(1.5))
    assert silent.is_empty
    stream = asr.open_stream(8000)
    assert isinstance(stream, ASRStream)
    await stream.feed(speech.pcm)
    assert (await stream.finish()).text == result.text
