"""Leave-one-split-out measurement of QA's rules with the learned second stage.

    .venv/bin/python scripts/qa_loso.py [--rules FILE] [--trainer FILE] [--json FILE]

For each labelled split of ``tests/qa/eval/`` (``tuning`` and every held-out split; never a
blind one, :data:`qa.evaluation.BLIND_SPLITS`), the second stage is trained as
``scripts/train_qa_model.py`` trains it but on the other splits only, its thresholds chosen as
the trainer chooses them, from the out-of-fold scores of the other splits' lines (each scored by
the model trained without its own split: the split left out is among their training lines, so
the thresholds are not strictly nested, but none of its lines is scored for them), and the rules
with that model are scored on the split left out: the model's first look at it. The rules are
the rules file as given (tuned on every split: their part of the number is not out of fold;
their first looks are in the splits' headers). Prints precision and recall per
category per split, the mean and the worst; ``--json`` writes them. ``--trainer`` names another
version of the trainer module (to measure an older training recipe the same way).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.compiled import CompiledRules  # noqa: E402
from qa.evaluation import BLIND_SPLITS, Labelled, evaluate  # noqa: E402
from qa.model import QaModel, analyse  # noqa: E402
from qa.reload import DEFAULT_RULES_PATH, load_rules_file  # noqa: E402
from qa.rules import Category  # noqa: E402
from qa.second_stage import SecondStage  # noqa: E402

EVAL = ROOT / "tests" / "qa" / "eval"
TRAINER = ROOT / "scripts" / "train_qa_model.py"
SCORING: ModuleType  # this tree's trainer, for ``scored_lines``


def splits_on_disk() -> tuple[str, ...]:
    """Every labelled split but the blind ones: ``tuning``, then the held-out splits in number
    order."""
    names = [p.stem for p in EVAL.glob("heldout*.tsv") if p.stem not in BLIND_SPLITS]
    return ("tuning", *sorted(names, key=lambda n: int(n[len("heldout") :] or 1)))


def load_trainer(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location("qa_trainer", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def cached_analyse() -> None:
    """Memoise :func:`qa.model.analyse` (each line is vectorised once per fit otherwise)."""
    import qa.model

    cache: dict[str, list[str]] = {}

    def memo(text: str) -> list[str]:
        got = cache.get(text)
        if got is None:
            got = cache[text] = analyse(text)
        return got

    qa.model.analyse = memo


def fold_models(
    trainer: ModuleType, splits: dict[str, list[Labelled]], rules: CompiledRules
) -> dict[str, tuple[dict[str, object], list[tuple[Labelled, dict[Category, float]]]]]:
    """Per split: the artefact (thresholds unset) of the second stage trained on every other
    split, and that split's lines scored by it (the trainer's out-of-fold scores)."""
    texts = [s.full_text for s in rules.rules.mandatory.statements.values() if s.full_text]
    warning = texts[0] if texts else "理财非存款,产品有风险,投资须谨慎。"
    out = {}
    for held in splits:
        train = [x for n, xs in splits.items() if n != held for x in xs]
        try:
            made = trainer.synthetic(train, warning, rules.rules.classes)
        except TypeError:  # an older trainer, without the concept grammar
            made = trainer.synthetic(train, warning)
        vec, clfs = trainer.fit(train + made)
        data = trainer.export(vec, clfs, {c: 0.0 for c in trainer.CATS}, trainer.gate(train), {})
        out[held] = (data, SCORING.scored_lines(QaModel(data), splits[held], rules))
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rules", type=Path, default=DEFAULT_RULES_PATH)
    ap.add_argument("--trainer", type=Path, default=TRAINER)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--only", nargs="*", help="leave out only these splits")
    args = ap.parse_args()
    cached_analyse()  # before the trainer imports it by name
    trainer = load_trainer(args.trainer)
    global SCORING
    SCORING = load_trainer(TRAINER)  # how out-of-fold lines are scored (the same in each recipe)
    trainer.EVAL = EVAL  # an older trainer kept elsewhere still reads these splits
    rules = load_rules_file(args.rules)
    names = splits_on_disk()
    splits = trainer.read(names)
    out: dict[str, dict[str, dict[str, list[float]]]] = {}
    folds = fold_models(trainer, splits, rules)
    for held in args.only or names:
        # thresholds chosen on the other splits' out-of-fold scores, as the trainer chooses
        others = [x for n, (_, scored) in folds.items() if n != held for x in scored]
        data = dict(folds[held][0])
        data["thresholds"] = {c.value: trainer.choose(others, c)[0] for c in trainer.CATS}
        model = QaModel(data)
        stage = SecondStage.of(model, rules.matcher)
        row: dict[str, dict[str, list[float]]] = {}
        for label, st in (("rules", None), ("rules+model", stage)):
            ev = evaluate(rules.matcher, splits[held], stage=st)
            row[label] = {s.category.value: [s.precision, s.recall] for s in ev.scores}
        out[held] = row
        print(held, _line(row["rules+model"]), " rules alone", _line(row["rules"]), flush=True)
    for label in ("rules", "rules+model"):
        for c in Category:
            ps = [out[n][label][c.value][0] for n in out]
            rs = [out[n][label][c.value][1] for n in out]
            mean_p, mean_r = sum(ps) / len(ps), sum(rs) / len(rs)
            print(
                f"{label:<12} {c.value:<22} mean P {mean_p:.3f} R {mean_r:.3f}"
                f"  worst P {min(ps):.3f} R {min(rs):.3f}"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return 0


def _line(row: dict[str, list[float]]) -> str:
    return "  ".join(f"{c[:5]} {p:.3f}/{r:.3f}" for c, (p, r) in row.items())


if __name__ == "__main__":
    raise SystemExit(main())
