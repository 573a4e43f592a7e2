"""Precision and recall per category on the labelled set: the target, recall >= 0.95 at
precision >= 0.95 per category, on the tuning split and on each held-out split.

The held-out splits were written before they were first run. Their first-run numbers are kept
in their headers: ``heldout2`` and ``heldout3`` fell short on new phrasing (e.g. misleading
comparisons 0.722, pressure 0.815 recall on ``heldout3``); their misses were then read and the
rules and matcher broadened for the general case (patterns matched by exact homophones, new
wording families written as tuning lines), so only their first runs measured unseen text.

``heldout4`` and ``heldout5`` are written by ``scripts/make_qa_heldout.py`` (seeded templates of
fresh phrasing, each positive also with one ASR slip). ``heldout4``'s first run (promises
0.970/0.744, comparisons 1.000/0.655, pressure 1.000/0.893) is in its header; its misses were
then read and the rules generalised, so it is tuning data now, held to the target.
``heldout5`` is never tuned on: it is held to its first run (in its header), below the target,
so it keeps measuring unseen text.

``heldout6`` was written by hand by a session that never saw the rules, the matcher or the
other splits; it was first run once, after the learned second stage (``qa/model.py``, trained
on the other splits) was frozen. Neither the rules nor the model is tuned on it: rules alone and
rules + model are each held to that first run (in its header), below the target."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qa.compiled import CompiledRules
from qa.evaluation import Labelled, evaluate, parse_labelled
from qa.model import DEFAULT_MODEL_PATH, load_model
from qa.reload import DEFAULT_RULES_PATH, load_rules_file
from qa.rules import Category

EVAL = Path(__file__).parent / "eval"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_qa_heldout.py"


def split(name: str) -> list[Labelled]:
    return parse_labelled((EVAL / f"{name}.tsv").read_text(encoding="utf-8"))


HELD_OUT = ("heldout", "heldout2", "heldout3", "heldout4")  # read after their first runs
FRESH = "heldout5"  # never tuned on
FIRST_RUN = {  # heldout5's first run (its header): (precision, recall) per category
    Category.PROHIBITED_PROMISE: (0.909, 0.476),
    Category.MISLEADING_COMPARISON: (0.905, 0.655),
    Category.PRESSURE_TACTIC: (1.000, 0.654),
}


SPLIT6 = "heldout6"  # never tuned on, by the rules or the model
SPLIT6_FIRST_RUN = {  # (precision, recall): rules alone, then rules + model
    "rules": {
        Category.PROHIBITED_PROMISE: (0.932, 0.719),
        Category.MISLEADING_COMPARISON: (0.914, 0.667),
        Category.PRESSURE_TACTIC: (1.000, 0.696),
    },
    "rules+model": {
        Category.PROHIBITED_PROMISE: (0.922, 0.825),
        Category.MISLEADING_COMPARISON: (0.875, 0.729),
        Category.PRESSURE_TACTIC: (0.953, 0.891),
    },
}


def test_the_labelled_set_is_big_and_balanced() -> None:
    lines = split("tuning") + [x for name in HELD_OUT for x in split(name)]
    assert len(lines) >= 300
    for c in Category:
        assert sum(c in x.labels for x in lines) >= 50
    assert sum(not x.labels for x in lines) >= 120  # negations, mandated wording, service talk
    for name in HELD_OUT:
        assert len(split(name)) >= 100


@pytest.mark.parametrize("name", ["tuning", *HELD_OUT])
def test_precision_and_recall_per_category(shipped: CompiledRules, name: str) -> None:
    ev = evaluate(shipped.matcher, split(name))
    report = {s.category.value: (round(s.precision, 3), round(s.recall, 3)) for s in ev.scores}
    misses = [f"{m.text} -> {sorted(f)}" for m, f in ev.misses]
    for s in ev.scores:
        assert s.precision >= 0.95, (report, misses)
        assert s.recall >= 0.95, (report, misses)


@pytest.mark.parametrize("number", [4, 5])
def test_the_scripted_splits_are_what_the_script_writes(number: int) -> None:
    spec = importlib.util.spec_from_file_location("make_qa_heldout", SCRIPT)
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    written = [
        (",".join(sorted(c.value for c in x.labels)) or "clean", x.text)
        for x in split(f"heldout{number}")
    ]
    assert written == script.lines(number)
    assert len(written) >= (120 if number == 5 else 100)


def test_the_fresh_split_holds_its_first_run(shipped: CompiledRules) -> None:
    ev = evaluate(shipped.matcher, split(FRESH))
    for s in ev.scores:
        precision, recall = FIRST_RUN[s.category]
        assert s.precision >= precision - 1e-3, (s.category, s.precision)
        assert s.recall >= recall - 1e-3, (s.category, s.recall)


@pytest.mark.parametrize("stage", ["rules", "rules+model"])
def test_split_6_holds_its_first_run(shipped: CompiledRules, stage: str) -> None:
    with_model = load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))
    assert with_model.model_version == "qa-model-2026-12-01.1"  # the model that first ran
    ev = evaluate(
        shipped.matcher,
        split(SPLIT6),
        stage=with_model.stage if stage == "rules+model" else None,
    )
    assert ev.lines >= 200
    for s in ev.scores:
        precision, recall = SPLIT6_FIRST_RUN[stage][s.category]
        assert s.precision >= precision - 1e-3, (stage, s.category, s.precision)
        assert s.recall >= recall - 1e-3, (stage, s.category, s.recall)
