"""Telephone audio utilities: G.711, resampling, levels, WAV IO, text helpers."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.errors import ConfigError
from speech.audio import (
    Audio,
    alaw_decode,
    alaw_encode,
    frames,
    normalize,
    peak_dbfs,
    read_wav,
    rms_dbfs,
    ulaw_decode,
    ulaw_encode,
    wav_bytes,
    wav_from_bytes,
    write_wav,
)
from speech.text import cer, int_to_hanzi, normalize_numbers, to_simplified

ALL_16BIT = np.arange(-32768, 32768, dtype=np.int16)


def test_g711_reference_values() -> None:
    # ITU-T G.711 code points: silence and full scale.
    assert ulaw_encode(np.array([0], np.int16)) == b"\xff"
    assert ulaw_decode(b"\x00")[0] == -32124
    assert ulaw_decode(b"\x80")[0] == 32124
    assert ulaw_decode(b"\xff")[0] == 0
    assert alaw_encode(np.array([0], np.int16)) == b"\xd5"
    assert alaw_decode(b"\xd5")[0] == 8
    assert alaw_decode(b"\x55")[0] == -8
    assert alaw_decode(b"\xaa")[0] == 32256


@pytest.mark.parametrize(
    ("encode", "decode"), [(ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)]
)
def test_g711_round_trip(encode, decode) -> None:
    codes = bytes(range(256))
    recoded = encode(decode(codes))
    decoded_again = decode(recoded)
    assert np.array_equal(decoded_again, decode(codes))  # every code decodes to a fixed point
    x = ALL_16BIT[np.abs(ALL_16BIT.astype(np.int32)) > 256]
    y = decode(encode(x)).astype(np.float64)
    rel = np.abs(y - x) / np.abs(x.astype(np.float64))
    assert rel.max() < 0.07  # 8-bit log companding: a few percent error at most
    assert np.all(np.sign(y) == np.sign(x))
    assert len(encode(ALL_16BIT)) == ALL_16BIT.size


def test_g711_monotonic() -> None:
    for encode, decode in ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode)):
        y = decode(encode(ALL_16BIT)).astype(np.int32)
        assert np.all(np.diff(y) >= 0)


def _tone(freq: float, seconds: float, rate: int, amp: float = 0.5) -> Audio:
    t = np.arange(round(seconds * rate)) / rate
    return Audio.from_samples(amp * np.sin(2 * np.pi * freq * t), rate)


def _dominant_hz(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.as_float()))
    return float(np.argmax(spectrum) * audio.sample_rate / len(audio.samples))


def test_resample_keeps_pitch_and_length() -> None:
    tone = _tone(1000.0, 1.0, 8000)
    up = tone.resampled(16000)
    assert up.sample_rate == 16000
    assert len(up.samples) == 16000
    assert abs(_dominant_hz(up) - 1000.0) < 2.0
    back = up.resampled(8000)
    assert len(back.samples) == 8000
    assert abs(rms_dbfs(back) - rms_dbfs(tone)) < 0.5


def test_levels_and_normalize() -> None:
    quiet = _tone(440.0, 0.5, 8000, amp=0.01)
    assert rms_dbfs(quiet) == pytest.approx(20 * np.log10(0.01 / np.sqrt(2)), abs=0.2)
    louder = normalize(quiet, target_rms_dbfs=-20.0)
    assert rms_dbfs(louder) == pytest.approx(-20.0, abs=0.3)
    limited = normalize(quiet, target_rms_dbfs=0.0, peak_limit_dbfs=-1.0)
    assert peak_dbfs(limited) <= -0.9
    silence = Audio.silence(0.5)
    assert normalize(silence) == silence
    assert rms_dbfs(silence) == float("-inf")


def test_wav_round_trip(tmp_path) -> None:
    tone = _tone(440.0, 0.25, 16000)
    path = tmp_path / "t.wav"
    write_wav(path, tone)
    assert read_wav(path) == tone
    assert wav_from_bytes(wav_bytes(tone)) == tone
    (tmp_path / "bad.wav").write_bytes(b"not a wav")
    with pytest.raises(ConfigError):
        read_wav(tmp_path / "bad.wav")


def test_frames_and_slice() -> None:
    audio = Audio.silence(1.0, 8000)
    chunks = list(frames(audio.pcm, 8000, 20))
    assert len(chunks) == 50 and all(len(c) == 320 for c in chunks)
    assert audio.slice(0.25, 0.5).duration_s == pytest.approx(0.25)
    assert audio.slice(-1.0, 9.0).duration_s == pytest.approx(1.0)


def test_numbers_to_hanzi() -> None:
    assert int_to_hanzi(3) == "三"
    assert int_to_hanzi(15) == "十五"
    assert int_to_hanzi(50000) == "五万"
    assert int_to_hanzi(1008) == "一千零八"
    assert normalize_numbers("明天下午3点以后") == "明天下午三点以后"
    assert normalize_numbers("骗了我5万块钱") == "骗了我五万块钱"
    assert normalize_numbers("年化3.5%") == "年化百分之三点五"
    assert normalize_numbers("尾号0123") == "尾号零一二三"
    assert normalize_numbers("１３８００１３８０００") == "一三八零零一三八零零零"


def test_simplified_and_cer() -> None:
    assert to_simplified("我對你們的處理結果非常不滿意") == "我对你们的处理结果非常不满意"
    assert cer("喂你好", "问你好") == pytest.approx(1 / 3)
    assert cer("你好，请问哪位？", "你好请问哪位") == 0.0
    assert cer("可以", "") == 1.0
