"""Media of the simulator: how long a playback source lasts, and real WAV files for recordings."""

from __future__ import annotations

import re
import wave
from pathlib import Path

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


def write_wav(path: Path, ms: int, source: Path | None = None) -> int:
    """Write a 16-bit mono WAV: ``source``'s audio if given, else ``ms`` of silence.

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
        dst.setnchannels(1)
        dst.setsampwidth(2)
        dst.setframerate(RATE)
        dst.writeframes(b"\x00\x00" * (RATE * ms // 1000))
    return ms
