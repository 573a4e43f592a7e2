"""Media of the simulator: how long a playback source lasts, and real WAV files for recordings."""

from __future__ import annotations

import re
import wave
from pathlib import Path

import numpy as np
import soxr

RATE = 8000
DEFAULT_MS = 1000
_TONE = re.compile(r"%\((\d+),(\d+)")


def duration_ms(source: str, sounds_dir: Path | None = None) -> int | None:
    """Playback length of ``source`` in ms; ``None`` if it is a file that does not exist."""
    if source.startswith("tone_stream://"):
        total = sum(int(on) + int(off) for on, off in _TONE.findall(source))
        return total or DEFAULT_MS
    if source.startswith("silence_stream://"):
        value = source[len("silence_stream://") :].split(",")[0]
        return int(value) if value.isdigit() else DEFAULT_MS
    if "://" in source or source.startswith(("say:", "speak:", "{")):
        return DEFAULT_MS
    path = Path(source)
    if not path.is_absolute() and sounds_dir is not None:
        path = sounds_dir / path
    if not path.exists():
        return None
    try:
        with wave.open(str(path), "rb") as wav:
            return int(wav.getnframes() * 1000 / wav.getframerate())
    except (wave.Error, EOFError, OSError):
        return DEFAULT_MS


def write_wav(path: Path, ms: int, source: Path | None = None, *, channels: int = 1) -> int:
    """Write a 16-bit WAV: ``source``'s audio if given, else ``ms`` of silence on
    ``channels`` channels (2: a stereo call recording, caller left, IVR right).

    Returns the recorded length in ms.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if source is not None and source.exists():
        with wave.open(str(source), "rb") as src:
            params = src.getparams()
            frames = src.readframes(src.getnframes())
        with wave.open(str(path), "wb") as dst:
            dst.setparams(params)
            dst.writeframes(frames)
        return int(params.nframes * 1000 / params.framerate)
    with wave.open(str(path), "wb") as dst:
        dst.setnchannels(channels)
        dst.setsampwidth(2)
        dst.setframerate(RATE)
        dst.writeframes(b"\x00\x00" * channels * (RATE * ms // 1000))
    return ms


def read_pcm(path: Path, sample_rate: int) -> bytes:
    """The audio of a 16-bit WAV as mono 16-bit little-endian PCM at ``sample_rate`` (first
    channel; resampled with soxr when the file has another rate)."""
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"{path.name}: only 16-bit WAV is supported")
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels)[:, 0]
    if rate != sample_rate:
        resampled = soxr.resample(samples.astype(np.float32) / 32768.0, rate, sample_rate)
        samples = np.clip(np.round(resampled * 32768.0), -32768, 32767).astype("<i2")
    return samples.astype("<i2").tobytes()
