"""Precision and recall per category on the labelled set: the target, recall >= 0.95 at
precision >= 0.95 per category, on the tuning split and on each held-out split, by the rules
alone and by the rules with the learned second stage.

The held-out splits were written before they were first run. Their first-run numbers are kept
in their headers: that is what they measured of unseen text; after it their misses were read
and the rules broadened for the general case, so each is tuning data now, held to the target.
``heldout2`` and ``heldout3`` fell short on new phrasing (e.g. misleading comparisons 0.722,
pressure 0.815 recall on ``heldout3``). ``heldout4`` and ``heldout5`` are written by
``scripts/make_qa_heldout.py`` (seeded templates of fresh phrasing, each positive also with one
ASR slip): ``heldout4`` first ran at promises 0.970/0.744, comparisons 1.000/0.655, pressure
1.000/0.893; ``heldout5`` at 0.909/0.476, 0.905/0.655, 1.000/0.654. ``heldout6`` was written by
hand by a session that never saw the rules (first run, rules alone: 0.932/0.719, 0.914/0.667,
1.000/0.696; with the model: 0.922/0.825, 0.875/0.729, 0.953/0.891). ``heldout8`` and
``heldout9`` were written by hand as imagined sales calls (bank wealth managers, insurance
agents, brokers) in wording unlike the other splits: ``heldout8`` first ran on rules
2026-12-01.5 at 0.889/0.416, 1.000/0.400, 1.000/0.370 (0.922/0.610, 1.000/0.691, 0.981/0.981
with the model); ``heldout9`` first ran after the wording families of rules 2026-12-01.6 were
written from the misses of splits 5, 6 and 8, at 0.971/0.559, 0.966/0.700, 1.000/0.681 (0.915/
0.729, 0.939/0.775, 0.959/1.000 with the model .1). Both are tuning data now.

``heldout7`` was blind (written by a session that never saw the rules, the matcher or the other
splits) and first run once by the lead after rules 2026-12-01.6 and model .2 were frozen
(0.886/0.737, 0.927/0.844, 1.000/0.714 rules alone; 0.859/0.895, 0.929/0.867, 0.783/0.959 with
the model). Since 2026-12-02 it is tuning data (the concept classes of rules 2026-12-02.1 were
written after its misses), held to the target and, as a floor, to that first run. ``heldout10``
(``BLIND_SPLITS``, 404 lines by a session that saw neither rules nor splits) was first run once
by the lead on rules 2026-12-02.1 / model 2026-12-02.1 (0.893/0.664, 0.911/0.836, 0.957/0.603
rules alone; 0.868/0.814, 0.909/0.984, 0.945/0.945 with the model): never tuned on, held to that
first run only (the system is not trained or tuned on it)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from qa.compiled import CompiledRules
from qa.evaluation import HELD_OUT_SPLITS, Labelled, evaluate, parse_labelled
from qa.model import DEFAULT_MODEL_PATH, load_model
from qa.reload import DEFAULT_RULES_PATH, load_rules_file
from qa.rules import Category

EVAL = Path(__file__).parent / "eval"
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "make_qa_heldout.py"


def split(name: str) -> list[Labelled]:
    return parse_labelled((EVAL / f"{name}.tsv").read_text(encoding="utf-8"))


HELD_OUT = HELD_OUT_SPLITS  # read after their first runs (their headers)


@pytest.fixture(scope="module")
def with_model() -> CompiledRules:
    return load_rules_file(DEFAULT_RULES_PATH, load_model(DEFAULT_MODEL_PATH))


def test_the_labelled_set_is_big_and_balanced() -> None:
    lines = split("tuning") + [x for name in HELD_OUT for x in split(name)]
    assert len(lines) >= 300
    for c in Category:
        assert sum(c in x.labels for x in lines) >= 50
    assert sum(not x.labels for x in lines) >= 120  # negations, mandated wording, service talk
    for name in HELD_OUT:
        assert len(split(name)) >= 100


@pytest.mark.parametrize("stage", ["rules", "rules+model"])
@pytest.mark.parametrize("name", ["tuning", *HELD_OUT])
def test_precision_and_recall_per_category(
    shipped: CompiledRules, with_model: CompiledRules, name: str, stage: str
) -> None:
    second = with_model.stage if stage == "rules+model" else None
    ev = evaluate(shipped.matcher, split(name), stage=second)
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


BLIND_FIRST_RUN = {  # heldout7's first run, blind (its header): (precision, recall) per category
    "rules": {
        "prohibited_promise": (0.886, 0.737),
        "misleading_comparison": (0.927, 0.844),
        "pressure_tactic": (1.000, 0.714),
    },
    "rules+model": {
        "prohibited_promise": (0.859, 0.895),
        "misleading_comparison": (0.929, 0.867),
        "pressure_tactic": (0.783, 0.959),
    },
}


@pytest.mark.parametrize("stage", ["rules", "rules+model"])
def test_the_once_blind_split_holds_its_first_run(
    shipped: CompiledRules, with_model: CompiledRules, stage: str
) -> None:
    second = with_model.stage if stage == "rules+model" else None
    ev = evaluate(shipped.matcher, split("heldout7"), stage=second)
    for s in ev.scores:
        precision, recall = BLIND_FIRST_RUN[stage][s.category.value]
        assert round(s.precision, 3) >= precision, (s.category, s.precision)
        assert round(s.recall, 3) >= recall, (s.category, s.recall)


BLIND10_FIRST_RUN = {  # heldout10's first run, blind (its header): (precision, recall)
    "rules": {
        "prohibited_promise": (0.893, 0.664),
        "misleading_comparison": (0.911, 0.836),
        "pressure_tactic": (0.957, 0.603),
    },
    "rules+model": {
        "prohibited_promise": (0.868, 0.814),
        "misleading_comparison": (0.909, 0.984),
        "pressure_tactic": (0.945, 0.945),
    },
}


@pytest.mark.parametrize("stage", ["rules", "rules+model"])
def test_the_blind_split_holds_its_first_run(
    shipped: CompiledRules, with_model: CompiledRules, stage: str
) -> None:
    """What the product did on wording nobody tuned on may not get worse unnoticed."""
    second = with_model.stage if stage == "rules+model" else None
    ev = evaluate(shipped.matcher, split("heldout10"), stage=second)
    assert len(ev.scores) == len(BLIND10_FIRST_RUN[stage])
    for s in ev.scores:
        precision, recall = BLIND10_FIRST_RUN[stage][s.category.value]
        assert round(s.precision, 3) >= precision, (s.category, s.precision)
        assert round(s.recall, 3) >= recall, (s.category, s.recall)
