"""A simulated telephone channel for evaluation audio: what a caller's voice goes through.

Pure numpy (and soxr for the rate change): clean synthetic speech at any rate in, 8 kHz 16-bit
audio out, the way a PSTN/VoIP leg delivers it to FreeSWITCH — background noise at a given SNR,
the talker's level, a 300-3400 Hz band-pass, 8 kHz, G.711 μ-law or A-law companding, and
optionally lost 20 ms packets (concealed as silence). Every random choice comes from the
``numpy.random.Generator`` passed in, so a seed reproduces the audio bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from speech.audio import Audio, alaw_decode, alaw_encode, resample, ulaw_decode, ulaw_encode

FloatArray = npt.NDArray[np.float64]
NoiseKind = Literal["none", "white", "pink", "brown", "babble", "hum"]
TELEPHONE_BAND_HZ = (300.0, 3400.0)


@dataclass(frozen=True)
class ChannelParams:
    """One utterance's channel: noise kind and SNR, talker level, codec, packet loss, padding."""

    noise: NoiseKind = "none"
    snr_db: float = 30.0
    level_dbfs: float = -20.0
    codec: Literal["ulaw", "alaw", "none"] = "ulaw"
    packet_loss: float = 0.0
    lead_s: float = 0.4
    tail_s: float = 0.8


def _band_pass(x: FloatArray, rate: int, low: float, high: float) -> FloatArray:
    """Brick-wall-free band-pass in the frequency domain with 100 Hz raised-cosine skirts."""
    n = len(x)
    if n == 0:
        return x
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(n, 1.0 / rate)
    gain = np.ones_like(freqs)
    skirt = 100.0
    below = freqs < low
    gain[below] = 0.5 * (1 + np.cos(np.pi * np.clip((low - freqs[below]) / skirt, 0, 1)))
    above = freqs > high
    gain[above] = 0.5 * (1 + np.cos(np.pi * np.clip((freqs[above] - high) / skirt, 0, 1)))
    return np.fft.irfft(spectrum * gain, n)


def _rms(x: FloatArray) -> float:
    return float(np.sqrt(np.mean(x * x))) if len(x) else 0.0


def make_noise(
    kind: NoiseKind, n: int, rate: int, rng: np.random.Generator, babble: FloatArray | None = None
) -> FloatArray:
    """``n`` samples of unit-RMS noise of ``kind`` (``babble`` needs other speech to mix)."""
    if kind == "none" or n == 0:
        return np.zeros(n)
    if kind == "white":
        noise = rng.standard_normal(n)
    elif kind in ("pink", "brown"):
        spectrum = np.fft.rfft(rng.standard_normal(n))
        freqs = np.maximum(np.fft.rfftfreq(n, 1.0 / rate), 20.0)
        noise = np.fft.irfft(spectrum / (np.sqrt(freqs) if kind == "pink" else freqs), n)
    elif kind == "hum":  # mains hum with harmonics plus a little hiss (bad line, fan)
        t = np.arange(n) / rate
        base = rng.choice([50.0, 60.0])
        noise = sum(
            np.sin(2 * np.pi * base * h * t + rng.uniform(0, 6.3)) / h for h in range(1, 12)
        )
        noise = noise + 0.3 * rng.standard_normal(n)
    elif kind == "babble":
        if babble is None or len(babble) == 0:
            raise ValueError("babble noise needs speech to mix")
        noise = np.zeros(n)
        for _ in range(4):  # four far-away talkers
            start = int(rng.integers(0, max(1, len(babble) - 1)))
            piece = np.roll(babble, -start)
            reps = int(np.ceil(n / len(piece)))
            noise += np.tile(piece, reps)[:n] * rng.uniform(0.5, 1.0)
    else:
        raise ValueError(f"unknown noise kind {kind!r}")
    rms = _rms(noise)
    return noise / rms if rms > 0 else noise


def telephone(
    speech: FloatArray,
    rate: int,
    params: ChannelParams,
    rng: np.random.Generator,
    babble: FloatArray | None = None,
) -> Audio:
    """Put clean ``speech`` (float samples in [-1, 1] at ``rate``) through the channel."""
    speech = np.asarray(speech, dtype=np.float64)
    lead, tail = np.zeros(int(params.lead_s * rate)), np.zeros(int(params.tail_s * rate))
    voiced = _rms(speech)
    x = np.concatenate([lead, speech, tail])
    # level: the talker's speech RMS at level_dbfs, measured over the speech only
    gain = 10 ** (params.level_dbfs / 20) / voiced if voiced > 0 else 0.0
    x = x * gain
    if params.noise != "none":
        noise_rms = 10 ** ((params.level_dbfs - params.snr_db) / 20)
        x = x + noise_rms * make_noise(params.noise, len(x), rate, rng, babble)
    x = _band_pass(x, rate, *TELEPHONE_BAND_HZ)
    pcm = np.clip(np.round(x * 32767), -32768, 32767).astype(np.int16)
    pcm8k = resample(pcm, rate, 8000) if rate != 8000 else pcm
    if params.codec == "ulaw":
        pcm8k = ulaw_decode(ulaw_encode(pcm8k))
    elif params.codec == "alaw":
        pcm8k = alaw_decode(alaw_encode(pcm8k))
    if params.packet_loss > 0:
        pcm8k = pcm8k.copy()
        frame = 160  # 20 ms at 8 kHz: one RTP packet
        for start in range(0, len(pcm8k), frame):
            if rng.random() < params.packet_loss:
                pcm8k[start : start + frame] = 0
    return Audio.from_samples(pcm8k, 8000)
