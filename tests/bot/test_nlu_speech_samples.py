"""The whisper transcripts of the recorded speech samples (../shared/speech-samples, copied to
speech_manifest.tsv) classify to their labelled intent with the real trained model."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import httpx
import pytest

pytestmark = pytest.mark.rasa

MANIFEST = Path(__file__).with_name("speech_manifest.tsv")


def _rows() -> list[dict[str, str]]:
    with MANIFEST.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_manifest_has_the_thirty_samples() -> None:
    assert len(_rows()) == 30


async def test_whisper_transcripts_classify_to_the_labelled_intent(rasa_stack: Any) -> None:
    wrong = []
    async with httpx.AsyncClient(base_url=rasa_stack.rasa_url, timeout=10) as client:
        for row in _rows():
            for text in (row["whisper_base"], row["text"]):
                reply = await client.post("/model/parse", json={"text": text})
                reply.raise_for_status()
                got = reply.json()["intent"]["name"]
                if got != row["intent"]:
                    wrong.append((row["file"], text, row["intent"], got))
    assert not wrong, f"misclassified: {wrong}"
