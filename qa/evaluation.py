"""Precision and recall of the matcher per category over a labelled set of lines (pure).

A labelled file is TSV: ``labels<TAB>text``, ``labels`` being comma-separated categories or
``clean``; ``#`` lines and the ``labels`` header are skipped. A line counts once per category:
flagged with a category it is labelled with is a true positive, flagged with another is a false
positive, labelled and not flagged is a false negative. ``tests/qa/eval/`` holds the tuning
split and the held-out splits (:data:`HELD_OUT_SPLITS`, each written and first run before it
was tuned on; a blind one, :data:`BLIND_SPLITS`, is kept out of them).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from qa.matcher import Matcher
from qa.rules import Category, Speaker
from qa.second_stage import SecondStage, check_line

# The held-out splits of ``tests/qa/eval/`` read after their first runs (each header keeps its
# first run): tuning data now, held to the target, and what the learned stage trains on with
# ``tuning``. ``heldout7`` was blind until its first run (2026-12-01; tuning data since
# 2026-12-02, and still held to that first run as a floor by the tests).
HELD_OUT_SPLITS = (
    "heldout",
    "heldout2",
    "heldout3",
    "heldout4",
    "heldout5",
    "heldout6",
    "heldout7",
    "heldout8",
    "heldout9",
)
# Blind splits: written to be first run once, by the lead, on a frozen system; never read,
# trained or tuned on before that (``bench/bench_qa.py --blind`` scores them; the
# leave-one-split-out measurement ``scripts/qa_loso.py`` leaves them alone).
BLIND_SPLITS = ("heldout10",)


@dataclass(frozen=True, slots=True)
class Labelled:
    labels: frozenset[Category]
    text: str
    line: int


def parse_labelled(text: str) -> list[Labelled]:
    """Lines of a labelled TSV; raises ``ValueError`` naming the line of a bad label."""
    out: list[Labelled] = []
    for n, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#") or raw.startswith("labels\t"):
            continue
        labels, _, sentence = raw.partition("\t")
        if not sentence:
            raise ValueError(f"line {n}: expected 'labels<TAB>text'")
        cats: set[Category] = set()
        for label in labels.split(","):
            if label.strip() == "clean":
                continue
            try:
                cats.add(Category(label.strip()))
            except ValueError:
                raise ValueError(f"line {n}: unknown label {label!r}") from None
        out.append(Labelled(frozenset(cats), sentence, n))
    return out


@dataclass(frozen=True, slots=True)
class CategoryScore:
    category: Category
    tp: int
    fp: int
    fn: int

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(frozen=True, slots=True)
class Evaluation:
    lines: int
    scores: tuple[CategoryScore, ...]
    misses: tuple[tuple[Labelled, frozenset[Category]], ...] = field(default=())

    def as_dict(self) -> dict[str, object]:
        return {
            "lines": self.lines,
            "categories": {
                s.category.value: {
                    "precision": round(s.precision, 4),
                    "recall": round(s.recall, 4),
                    "tp": s.tp,
                    "fp": s.fp,
                    "fn": s.fn,
                }
                for s in self.scores
            },
        }


def evaluate(
    matcher: Matcher,
    lines: Sequence[Labelled],
    speaker: Speaker = Speaker.AGENT,
    stage: SecondStage | None = None,
) -> Evaluation:
    """Score ``matcher`` (and the learned ``stage`` beside it: a line counts as flagged for a
    category its rule hits or its model hits name) on labelled lines; ``misses`` lists each
    wrongly judged line."""
    counts = {c: [0, 0, 0] for c in Category}
    misses: list[tuple[Labelled, frozenset[Category]]] = []
    for item in lines:
        found = check_line(matcher, stage, item.text, speaker).categories
        for c in Category:
            if c in found and c in item.labels:
                counts[c][0] += 1
            elif c in found:
                counts[c][1] += 1
            elif c in item.labels:
                counts[c][2] += 1
        if found != item.labels:
            misses.append((item, found))
    return Evaluation(
        len(lines),
        tuple(CategoryScore(c, *counts[c]) for c in Category),
        tuple(misses),
    )


def format_evaluation(name: str, ev: Evaluation, show: Iterable[str] = ()) -> str:
    rows = [f"{name}: {ev.lines} lines"]
    for s in ev.scores:
        rows.append(
            f"  {s.category.value:<22} precision {s.precision:.3f}  recall {s.recall:.3f}"
            f"  (tp {s.tp}, fp {s.fp}, fn {s.fn})"
        )
    rows.extend(show)
    return "\n".join(rows)
