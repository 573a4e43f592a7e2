"""TTS: espeak-ng (cmn-latn-pinyin) and the fakes pass the TTS contract."""

from __future__ import annotations

import pytest

from speech.audio import peak_dbfs, rms_dbfs
from speech.fakes import ToneTTS
from speech.ports import TTS
from speech.tts_espeak import EspeakTTS, espeak_has_voice

SENTENCE = "您好，这里是示例银行智能客服，本次通话将被录音。"  # 22 characters


@pytest.fixture(params=["espeak", "tone"])
def tts(request: pytest.FixtureRequest) -> TTS:
    return EspeakTTS() if request.param == "espeak" else ToneTTS()


@pytest.mark.parametrize("rate", [8000, 16000])
async def test_tts_contract(tts: TTS, rate: int) -> None:
    assert isinstance(tts, TTS)
    audio = await tts.synthesize(SENTENCE, rate)
    assert audio.sample_rate == rate
    # Mandarin at a conversational pace: 3-7 characters a second.
    assert 22 / 7 <= audio.duration_s <= 22 / 2.5, audio.duration_s
    assert rms_dbfs(audio) > -35.0
    assert peak_dbfs(audio) <= 0.0
    short = await tts.synthesize("您好", rate)
    assert short.duration_s < audio.duration_s
    with pytest.raises(ValueError):
        await tts.synthesize("您好", 11025)


def test_espeak_has_the_pinyin_voice() -> None:
    assert espeak_has_voice("cmn-latn-pinyin")


async def test_espeak_text_is_never_an_option() -> None:
    tts = EspeakTTS()
    audio = await tts.synthesize("--version 您好", 8000)
    assert audio.duration_s > 0.5  # read aloud, not executed as a flag


async def test_espeak_reads_numbers_in_mandarin() -> None:
    tts = EspeakTTS()
    digits = await tts.synthesize("下午3点", 8000)
    hanzi = await tts.synthesize("下午三点", 8000)
    assert digits.pcm == hanzi.pcm


def test_cache_identity_names_engine_and_voice() -> None:
    identity = EspeakTTS().cache_identity
    assert "espeak-ng" in identity and "cmn-latn-pinyin" in identity
    assert EspeakTTS(speed_wpm=120).cache_identity != identity
