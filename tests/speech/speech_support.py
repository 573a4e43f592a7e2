"""Helpers shared by the speech tests (imported by name: tests/ has no packages)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from speech.audio import Audio, read_wav

FIXTURES = Path(__file__).parent / "fixtures"


@dataclass(frozen=True)
class Sample:
    """One committed utterance (see fixtures/README.md)."""

    file: str
    text: str
    intent: str

    @property
    def audio(self) -> Audio:
        return read_wav(FIXTURES / self.file)


def load_samples() -> list[Sample]:
    with (FIXTURES / "manifest.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return [Sample(r["file"], r["text"], r["intent"]) for r in rows]
