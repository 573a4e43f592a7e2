"""Fixtures of the speech tests: the committed sample audio and one shared Whisper model."""

from __future__ import annotations

from typing import Any

import pytest
from speech_support import Sample, load_samples

from ivr.settings import Settings


@pytest.fixture(scope="session")
def samples() -> list[Sample]:
    return load_samples()


@pytest.fixture(scope="session")
def whisper_asr() -> Any:
    """Whisper-base loaded once per session (int8, 2 threads); its folder is built once under
    the data dir from the weight wheels."""
    from speech.asr_whisper import WhisperASR

    return WhisperASR.from_wheels(Settings().data_dir / "models", cpu_threads=2)
