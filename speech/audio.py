"""Telephone audio: the :class:`Audio` value, resampling, G.711 (μ-law/A-law), levels, WAV IO.

Resampling uses soxr (libsoxr, high quality). G.711 is ITU-T G.711 done as numpy-vectorised
table look-ups and bit arithmetic (the standard library's ``audioop`` is deprecated and gone in
Python 3.13). WAV files are read and written with the standard ``wave`` module.
"""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import soxr

from ivr.errors import ConfigError

TELEPHONE_RATES: Final = (8000, 16000)
Int16Array = npt.NDArray[np.int16]
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Audio:
    """Mono 16-bit signed little-endian PCM and its sample rate."""

    pcm: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if len(self.pcm) % 2:
            raise ValueError("16-bit PCM must have an even number of bytes")
        if self.sample_rate <= 0:
            raise ValueError("sample rate must be positive")

    @classmethod
    def from_samples(cls, samples: npt.ArrayLike, sample_rate: int) -> Audio:
        """From int16 samples, or floats in [-1, 1] (clipped)."""
        arr = np.asarray(samples)
        if arr.dtype.kind == "f":
            return cls(float_to_pcm16(arr.astype(np.float32)).tobytes(), sample_rate)
        return cls(arr.astype("<i2").tobytes(), sample_rate)

    @classmethod
    def silence(cls, seconds: float, sample_rate: int = 8000) -> Audio:
        """Digital silence of the given length."""
        return cls(bytes(2 * round(seconds * sample_rate)), sample_rate)

    @property
    def samples(self) -> Int16Array:
        """The samples as a read-only int16 array."""
        return np.frombuffer(self.pcm, dtype="<i2")

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / 2 / self.sample_rate

    def as_float(self) -> FloatArray:
        """Samples as float32 in [-1, 1)."""
        return pcm16_to_float(self.samples)

    def resampled(self, sample_rate: int, quality: str = "HQ") -> Audio:
        """The same audio at another sample rate (soxr; ``quality`` HQ, VHQ, MQ or LQ)."""
        out = resample(self.samples, self.sample_rate, sample_rate, quality)
        return Audio(out.tobytes(), sample_rate)

    def slice(self, start_s: float, end_s: float) -> Audio:
        """The part between two times (clamped to the audio)."""
        n = len(self.pcm) // 2
        a = max(0, min(n, round(start_s * self.sample_rate)))
        b = max(a, min(n, round(end_s * self.sample_rate)))
        return Audio(self.pcm[2 * a : 2 * b], self.sample_rate)

    def __add__(self, other: Audio) -> Audio:
        if other.sample_rate != self.sample_rate:
            other = other.resampled(self.sample_rate)
        return Audio(self.pcm + other.pcm, self.sample_rate)


def pcm16_to_float(samples: npt.NDArray[np.int16]) -> FloatArray:
    """int16 samples to float32 in [-1, 1)."""
    return (samples.astype(np.float32) / 32768.0).astype(np.float32)


def float_to_pcm16(samples: FloatArray) -> Int16Array:
    """float samples in [-1, 1] to int16 (clipped, rounded)."""
    clipped = np.clip(samples, -1.0, 32767.0 / 32768.0) * 32768.0
    return np.round(clipped).astype("<i2")


def resample(
    samples: npt.NDArray[np.int16], from_rate: int, to_rate: int, quality: str = "HQ"
) -> Int16Array:
    """Resample int16 mono samples with soxr. Identity when the rates match."""
    if from_rate == to_rate or samples.size == 0:
        return np.asarray(samples, dtype="<i2").copy()
    out = soxr.resample(pcm16_to_float(samples), from_rate, to_rate, quality=quality)
    return float_to_pcm16(np.asarray(out, dtype=np.float32))


# ---------------------------------------------------------------------------------------------
# G.711 (ITU-T): μ-law and A-law, vectorised over numpy arrays.
# ---------------------------------------------------------------------------------------------

_ULAW_BIAS: Final = 0x21
_ULAW_CLIP: Final = 8159
_ULAW_SEG_END: Final = np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF], np.int32)
_ALAW_SEG_END: Final = np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF], np.int32)


def _ulaw_decode_table() -> Int16Array:
    u = (~np.arange(256, dtype=np.int32)) & 0xFF
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84
    return np.where(u & 0x80, -magnitude, magnitude).astype(np.int16)


def _alaw_decode_table() -> Int16Array:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    seg = (a & 0x70) >> 4
    t = (a & 0x0F) << 4
    t = np.where(seg == 0, t + 8, t + 0x108)
    t = np.where(seg > 1, t << np.maximum(seg - 1, 0), t)
    return np.where(a & 0x80, t, -t).astype(np.int16)


ULAW_DECODE: Final = _ulaw_decode_table()
ALAW_DECODE: Final = _alaw_decode_table()


def ulaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    """16-bit linear PCM samples to G.711 μ-law bytes (14-bit reference quantiser)."""
    x = np.asarray(samples, dtype=np.int32) >> 2
    mask = np.where(x < 0, 0x7F, 0xFF)
    mag = np.minimum(np.abs(x), _ULAW_CLIP) + _ULAW_BIAS
    seg = np.searchsorted(_ULAW_SEG_END, mag, side="left").astype(np.int32)
    uval = (np.minimum(seg, 7) << 4) | ((mag >> (np.minimum(seg, 7) + 1)) & 0x0F)
    uval = np.where(seg >= 8, 0x7F, uval)
    return ((uval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> Int16Array:
    """G.711 μ-law bytes to 16-bit linear PCM samples."""
    return ULAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


def alaw_encode(samples: npt.NDArray[np.int16]) -> bytes:
    """16-bit linear PCM samples to G.711 A-law bytes."""
    x = np.asarray(samples, dtype=np.int32) >> 3
    mask = np.where(x >= 0, 0xD5, 0x55)
    x = np.where(x >= 0, x, -x - 1)
    seg = np.searchsorted(_ALAW_SEG_END, x, side="left").astype(np.int32)
    shift = np.where(seg < 2, 1, seg)
    aval = (np.minimum(seg, 7) << 4) | ((x >> shift) & 0x0F)
    aval = np.where(seg >= 8, 0x7F, aval)
    return ((aval ^ mask) & 0xFF).astype(np.uint8).tobytes()


def alaw_decode(data: bytes) -> Int16Array:
    """G.711 A-law bytes to 16-bit linear PCM samples."""
    return ALAW_DECODE[np.frombuffer(data, dtype=np.uint8)]


# ---------------------------------------------------------------------------------------------
# Levels
# ---------------------------------------------------------------------------------------------


def rms_dbfs(audio: Audio) -> float:
    """RMS level in dBFS (-inf for digital silence)."""
    x = audio.as_float()
    if x.size == 0:
        return float("-inf")
    rms = float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))
    return 20.0 * float(np.log10(rms)) if rms > 0 else float("-inf")


def peak_dbfs(audio: Audio) -> float:
    """Peak level in dBFS (-inf for digital silence)."""
    x = audio.as_float()
    peak = float(np.max(np.abs(x))) if x.size else 0.0
    return 20.0 * float(np.log10(peak)) if peak > 0 else float("-inf")


def normalize(audio: Audio, target_rms_dbfs: float = -20.0, peak_limit_dbfs: float = -1.0) -> Audio:
    """Scale to a target RMS level without letting the peak exceed ``peak_limit_dbfs``.

    Digital silence is returned unchanged.
    """
    rms = rms_dbfs(audio)
    peak = peak_dbfs(audio)
    if rms == float("-inf"):
        return audio
    gain_db = min(target_rms_dbfs - rms, peak_limit_dbfs - peak)
    gain = float(10.0 ** (gain_db / 20.0))
    return Audio(float_to_pcm16(audio.as_float() * gain).tobytes(), audio.sample_rate)


# ---------------------------------------------------------------------------------------------
# WAV IO and framing
# ---------------------------------------------------------------------------------------------


def _read_wave(handle: wave.Wave_read) -> Audio:
    width = handle.getsampwidth()
    channels = handle.getnchannels()
    raw = handle.readframes(handle.getnframes())
    if width != 2:
        raise ConfigError(f"only 16-bit PCM WAV is supported (got {8 * width}-bit)")
    samples = np.frombuffer(raw, dtype="<i2")
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).round().astype("<i2")
    return Audio(samples.tobytes(), handle.getframerate())


def read_wav(path: str | Path) -> Audio:
    """Read a 16-bit PCM WAV file (multi-channel input is mixed down to mono)."""
    try:
        with wave.open(str(path), "rb") as handle:
            return _read_wave(handle)
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"not a readable PCM WAV file: {path}: {exc}") from exc


def wav_from_bytes(data: bytes) -> Audio:
    """Parse WAV file content."""
    try:
        with wave.open(io.BytesIO(data), "rb") as handle:
            return _read_wave(handle)
    except (wave.Error, EOFError) as exc:
        raise ConfigError(f"not a readable PCM WAV: {exc}") from exc


def wav_bytes(audio: Audio) -> bytes:
    """The audio as WAV file content (16-bit PCM mono)."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(audio.sample_rate)
        handle.writeframes(audio.pcm)
    return buf.getvalue()


def write_wav(path: str | Path, audio: Audio) -> None:
    """Write the audio as a 16-bit PCM mono WAV file."""
    Path(path).write_bytes(wav_bytes(audio))


def frames(pcm: bytes, sample_rate: int, frame_ms: int = 20) -> Iterator[bytes]:
    """Split PCM into whole frames of ``frame_ms`` (a short tail is dropped)."""
    size = 2 * sample_rate * frame_ms // 1000
    for start in range(0, len(pcm) - size + 1, size):
        yield pcm[start : start + size]
