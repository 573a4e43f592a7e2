"""Precision and recall per category on the labelled set (tuning and held-out splits)."""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.compiled import CompiledRules
from qa.evaluation import Labelled, evaluate, parse_labelled
from qa.rules import Category

EVAL = Path(__file__).parent / "eval"


def split(name: str) -> list[Labelled]:
    return parse_labelled((EVAL / f"{name}.tsv").read_text(encoding="utf-8"))


def test_the_labelled_set_is_big_and_balanced() -> None:
    lines = split("tuning") + split("heldout")
    assert len(lines) >= 300
    for c in Category:
        assert sum(c in x.labels for x in lines) >= 50
    assert sum(not x.labels for x in lines) >= 120  # negations, mandated wording, service talk
    assert len(split("heldout")) >= 100


@pytest.mark.parametrize("name", ["tuning", "heldout"])
def test_precision_and_recall_per_category(shipped: CompiledRules, name: str) -> None:
    ev = evaluate(shipped.matcher, split(name))
    report = {s.category.value: (round(s.precision, 3), round(s.recall, 3)) for s in ev.scores}
    misses = [f"{m.text} -> {sorted(f)}" for m, f in ev.misses]
    for s in ev.scores:
        assert s.precision >= 0.95, (report, misses)
        assert s.recall >= (0.95 if name == "tuning" else 0.90), (report, misses)
