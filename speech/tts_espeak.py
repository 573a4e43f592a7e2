"""espeak-ng TTS: the always-available synthesiser (Debian package ``espeak-ng``).

Mandarin needs the voice ``cmn-latn-pinyin``, which reads Chinese characters correctly (``cmn``
does not). espeak-ng writes 22.05 kHz WAV; it is resampled to 8 or 16 kHz and level-normalised.
Text goes through standard input, never the command line, so no text can become an option.
Numbers are spelled out in Hanzi first so that they are read in Mandarin.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path

from ivr.errors import DependencyUnavailableError
from speech.audio import TELEPHONE_RATES, Audio, normalize, read_wav
from speech.text import normalize_numbers

DEFAULT_VOICE = "cmn-latn-pinyin"


@lru_cache(maxsize=1)
def espeak_version() -> str | None:
    """The installed espeak-ng version line, or None when it is not installed."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    out = subprocess.run(
        [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
    )
    match = re.search(r"\d+\.\d+(?:\.\d+)?", out.stdout)
    return match.group(0) if match else "unknown"


def espeak_has_voice(voice: str) -> bool:
    """Whether espeak-ng knows the voice (e.g. ``cmn-latn-pinyin``)."""
    exe = shutil.which("espeak-ng")
    if exe is None:
        return False
    out = subprocess.run([exe, "--voices"], capture_output=True, text=True, timeout=10, check=False)
    return any(voice in line.split() for line in out.stdout.splitlines())


class EspeakTTS:
    """espeak-ng behind the :class:`~speech.ports.TTS` port."""

    name = "espeak"

    def __init__(self, voice: str = DEFAULT_VOICE, speed_wpm: int = 160, pitch: int = 50) -> None:
        exe = shutil.which("espeak-ng")
        if exe is None:
            raise DependencyUnavailableError(
                "espeak-ng is not installed (apt-get install -y espeak-ng)"
            )
        self._exe = exe
        self.voice = voice
        self.speed_wpm = speed_wpm
        self.pitch = pitch

    @property
    def cache_identity(self) -> str:
        return f"espeak-ng|{espeak_version()}|{self.voice}|s{self.speed_wpm}|p{self.pitch}"

    def synthesize_sync(self, text: str, sample_rate: int = 8000) -> Audio:
        """Synthesize, blocking (a subprocess, ~0.1 s for a sentence)."""
        if sample_rate not in TELEPHONE_RATES:
            raise ValueError(f"sample rate must be one of {TELEPHONE_RATES}")
        with tempfile.TemporaryDirectory(prefix="espeak-") as tmp:
            out = Path(tmp) / "out.wav"
            proc = subprocess.run(
                [
                    self._exe,
                    "-v",
                    self.voice,
                    "-s",
                    str(self.speed_wpm),
                    "-p",
                    str(self.pitch),
                    "-w",
                    str(out),
                    "--stdin",
                ],
                input=normalize_numbers(text).encode("utf-8"),
                capture_output=True,
                timeout=60,
                check=False,
            )
            if proc.returncode != 0 or not out.is_file():
                raise DependencyUnavailableError(
                    f"espeak-ng failed with exit code {proc.returncode}"
                )
            audio = read_wav(out)
        return normalize(audio.resampled(sample_rate), target_rms_dbfs=-18.0)

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        return await asyncio.to_thread(self.synthesize_sync, text, sample_rate)
