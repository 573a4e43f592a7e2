"""The whole check's fast path (qa.second_stage.check_line: one fold for both stages, the
matcher's lossless gates, the model's automata and summed rows) finds what the plain reference
path finds, on every labelled line and on a generated corpus (splices, mutations and
call-centre mixes of them), for every speaker: the same rule hits, the same model hits, the
same scores. The reference is the matcher with every cheap test off (``unfiltered``, as in
tests/qa/test_qa_prefilter.py) and the model read straight from its artefact: a line's feature
names (:func:`qa.model.analyse`, what the trainer's vectoriser reads), the gate's bigrams and
the key n-gram found by slicing the line."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import pytest
from qa_filter_support import unfiltered

from qa.compiled import CompiledRules
from qa.evaluation import parse_labelled
from qa.matcher import Hit, Matcher
from qa.model import (
    DEFAULT_MODEL_PATH,
    SOUND_TAG,
    QaModel,
    Scored,
    analyse,
    features,
    load_model,
)
from qa.reload import DEFAULT_RULES_PATH, load_rules_file
from qa.rules import Category, Speaker
from qa.second_stage import check_line, vetted
from qa.text import fold, sounds, spelled_sounds

EVAL = Path(__file__).parent / "eval"
ARTEFACT = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
CALL_CENTRE = [
    "您好，请问有什么可以帮您？",
    "这个需要您带身份证到网点办理。",
    "目前这个业务只能在工作日办理。",
    "您的信用卡本期账单金额是三千二百元。",
    "我现在为您转接人工服务。",
    "請問您是本人嗎？",  # traditional script, full-width punctuation
    "Your card has been blocked, a new one is on its way.",
]


@pytest.fixture(scope="module")
def both() -> CompiledRules:
    return load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))


@pytest.fixture(scope="module")
def slow(both: CompiledRules) -> Matcher:
    return unfiltered(both)


def labelled() -> list[str]:
    return [i.text for f in sorted(EVAL.glob("*.tsv")) for i in parse_labelled(f.read_text())]


def generated(base: list[str], count: int = 1500) -> list[str]:
    """Lines no labelled file holds: halves of two lines joined, a character replaced by
    another line's or a negation, one dropped, service talk before or after product talk."""
    rng = random.Random(1616)
    out = []
    for _ in range(count):
        a, b = rng.choice(base), rng.choice(base)
        r = rng.random()
        if r < 0.4:
            line = a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1) :]
        elif r < 0.6 and a:
            i = rng.randrange(len(a))
            line = a[:i] + rng.choice(b + "不没有，？ ") + a[i + 1 :]
        elif r < 0.7 and a:
            i = rng.randrange(len(a))
            line = a[:i] + a[i + 1 :]
        else:
            routine = rng.choice(CALL_CENTRE)
            line = f"{routine}{a}" if rng.random() < 0.5 else f"{a}，{routine}"
        out.append(line)
    return out + CALL_CENTRE


def reference_probabilities(text: str) -> dict[Category, float]:
    """The model's probabilities of a line from its artefact and its feature names."""
    rows = [ARTEFACT["features"][f] for f in analyse(text) if f in ARTEFACT["features"]]
    norm = math.sqrt(math.fsum(float(r[0]) ** 2 for r in rows)) or 1.0
    return {
        Category(c): 1.0 / (1.0 + math.exp(-(b + math.fsum(r[k + 1] for r in rows) / norm)))
        for k, (c, b) in enumerate(zip(ARTEFACT["categories"], ARTEFACT["intercepts"], strict=True))
    }


def reference_gated(model: QaModel, sound: str) -> bool:
    return any(gram in sound for gram in model.gate)


def reference_key_span(folded: str, cat: Category) -> tuple[int, int]:
    """The first n-gram, in :func:`qa.model.features`' order, adding most to ``cat``."""
    k = ARTEFACT["categories"].index(cat.value) + 1
    sound = sounds(folded)
    best, span = -math.inf, (0, len(folded))
    for name, start, end in features(folded, sound):
        if name.startswith(SOUND_TAG):  # spelled as the artefact spells it
            name = SOUND_TAG + spelled_sounds(sound[start:end])
        row = ARTEFACT["features"].get(name)
        if row is not None and float(row[k]) > best:
            best, span = float(row[k]), (start, end)
    return span


Found = tuple[tuple[Hit, ...], tuple[tuple[Category, str, str, float], ...]]


def reference_check(
    both: CompiledRules, slow: Matcher, text: str, speaker: Speaker | None
) -> Found:
    assert both.stage is not None
    model = both.stage.model
    hits = slow.scan(text, speaker)
    folded = fold(text)
    if not folded or not reference_gated(model, sounds(folded)):
        return hits, ()
    scored = Scored(reference_probabilities(text), folded, sounds(folded))
    flagged = frozenset(h.category for h in hits)
    found = vetted(model, slow, both.stage.safe, scored, text, flagged)
    return hits, tuple((m.category, m.phrase, m.model_version, m.score) for m in found)


def test_the_fast_whole_check_is_the_reference_check(both: CompiledRules, slow: Matcher) -> None:
    base = labelled()
    checked = flagged = by_model = 0
    for text in base + generated(base):
        for speaker in (None, Speaker.AGENT, Speaker.BOT):
            fast = check_line(both.matcher, both.stage, text, speaker)
            hits, found = reference_check(both, slow, text, speaker)
            assert fast.hits == hits, text
            got = [(m.category, m.phrase, m.model_version) for m in fast.model_hits]
            assert got == [f[:3] for f in found], text
            for m, f in zip(fast.model_hits, found, strict=True):
                assert m.score == pytest.approx(f[3], abs=1e-12), text
            checked += 1
            flagged += bool(hits)
            by_model += bool(found)
    assert checked > 10_000 and flagged > 3_000 and by_model > 300  # the test saw hits


def test_the_model_scores_what_its_artefact_says(both: CompiledRules) -> None:
    assert both.stage is not None
    model = both.stage.model
    base = labelled()
    gated = 0
    for text in base + generated(base, 500):
        folded = fold(text)
        sound = sounds(folded)
        if not folded:
            continue
        assert model.gated(folded, sound) == reference_gated(model, sound), text
        gated += model.gated(folded, sound)
        fast = model.score_folded(folded, sound)
        for cat, p in reference_probabilities(text).items():
            assert fast[cat] == pytest.approx(p, abs=1e-12), text
            assert model.key_span(folded, sound, cat) == reference_key_span(folded, cat)
    assert gated > 1000
