"""The learned second stage of QA: one linear classifier per category (pure scoring; no IO
beyond :func:`load_model`, no clock).

Features of a line (:func:`features`) are the n-grams (1-4) of its folded characters
(:func:`qa.text.fold`) and the n-grams (2-4) of its sound string (:func:`qa.text.sounds`: loose
toneless pinyin), so an ASR homophone slip (搜益 for 收益) shares the features of what was
meant. Each feature is present or not; a line's vector is weighted by idf and L2-normalised,
as the trainer's scikit-learn ``TfidfVectorizer(binary=True)`` does, and each category's
logistic regression gives a probability. Weights (times the idf), idf, the thresholds chosen by
cross-validation and the gate are one JSON artefact written by ``scripts/train_qa_model.py``
(``qa/model/qa_model.json``, committed; no download, no training at run time). Sound n-grams
are spelled there by syllable (:func:`qa.text.spelled_sounds`): sound codes differ between
processes. A line's features are found by one Aho-Corasick scan of each string, and their rows
summed in one numpy call.

The gate: a line whose sound string holds none of the gate's sound bigrams (product, return,
deposit and urgency vocabulary learnt from the training lines; by sound, so an ASR slip passes
as what was meant) is not scored: routine service talk costs one Aho-Corasick scan.
:meth:`QaModel.key_span` names the n-gram adding most to a category's score, where the context
veto of :mod:`qa.second_stage` looks.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import ahocorasick
import numpy as np

from ivr.errors import ConfigError
from ivr.settings import REPO_ROOT, Settings
from qa.rules import Category
from qa.text import coded_sounds, fold, fold_sounds, sounds, spelled_sounds

log = logging.getLogger(__name__)

DEFAULT_MODEL_PATH = REPO_ROOT / "qa" / "model" / "qa_model.json"
CHAR_N = (1, 4)  # character n-grams of the folded text
SOUND_N = (2, 4)  # n-grams of the sound string
_SECOND = itemgetter(1)
SOUND_TAG = "~"  # prefix of a sound feature (never a folded character: fold keeps no "~")


def features(folded: str, sound: str) -> list[tuple[str, int, int]]:
    """Every feature occurrence of a folded line and its sound string: ``(feature, start,
    end)`` in folded offsets (both strings have one position per folded character); a sound
    n-gram is ``SOUND_TAG`` + its codes as this process numbers them."""
    out: list[tuple[str, int, int]] = []
    n = len(folded)
    for size in range(CHAR_N[0], CHAR_N[1] + 1):
        for i in range(n - size + 1):
            out.append((folded[i : i + size], i, i + size))
    for size in range(SOUND_N[0], SOUND_N[1] + 1):
        for i in range(n - size + 1):
            out.append((SOUND_TAG + sound[i : i + size], i, i + size))
    return out


def analyse(text: str) -> list[str]:
    """The distinct features of one line of text as the artefact names them (what the
    trainer's vectoriser reads): sound n-grams spelled stably (:func:`qa.text.spelled_sounds`)."""
    folded = fold(text)
    return sorted(
        {
            SOUND_TAG + spelled_sounds(f[len(SOUND_TAG) :]) if f.startswith(SOUND_TAG) else f
            for f, _, _ in features(folded, sounds(folded))
        }
    )


class ModelError(ConfigError):
    """A model artefact that cannot be read (a local error: the file shipped is bad)."""


@dataclass(frozen=True, slots=True)
class Scored:
    """The model's probability per category for one line (empty: the gate skipped it)."""

    probabilities: dict[Category, float]
    folded: str
    sound: str


class QaModel:
    """One trained model version: weights per category, idf, thresholds, gate."""

    def __init__(self, data: dict[str, object]) -> None:
        try:
            self.version = str(data["version"])
            cats = [Category(c) for c in data["categories"]]  # type: ignore[attr-defined]
            self.categories: tuple[Category, ...] = tuple(cats)
            self.intercepts = dict(zip(cats, data["intercepts"], strict=True))  # type: ignore[call-overload]
            self._intercepts = tuple(self.intercepts.items())  # in the order of the weights
            self.thresholds = {Category(k): float(v) for k, v in data["thresholds"].items()}  # type: ignore[attr-defined]
            # feature -> (idf squared, weight*idf per category); character n-grams and sound
            # n-grams (untagged) apart, so a line's n-grams are looked up as they are sliced
            self._chars: dict[str, tuple[float, ...]] = {}
            self._sounds: dict[str, tuple[float, ...]] = {}
            for feat, row in data["features"].items():  # type: ignore[attr-defined]
                values = (float(row[0]) ** 2, *(float(x) for x in row[1:]))
                if feat.startswith(SOUND_TAG):
                    self._sounds[coded_sounds(feat[len(SOUND_TAG) :])] = values
                else:
                    self._chars[feat] = values
            # every feature of a line found in one C-level scan each (its value: its row's
            # index, so a feature found twice counts once: features are binary)
            self._rows: list[tuple[float, ...]] = []
            self._lens: list[int] = []  # each row's n-gram length (folded positions)
            self._char_ac = self._automaton(self._chars)
            self._sound_ac = self._automaton(self._sounds)
            # the same rows as one array (one row per feature: idf squared, then the weights)
            self._weights = np.array(self._rows, dtype=np.float64).reshape(-1, 1 + len(cats))
            self.gate: frozenset[str] = frozenset(coded_sounds(g) for g in data["gate"])  # type: ignore[attr-defined]
            self._gate = ahocorasick.Automaton()
            for gram in sorted(self.gate, key=lambda g: (self._sounds.get(g, (math.inf,))[0], g)):
                self._gate.add_word(gram, len(gram))  # the commonest first (see _automaton)
            if not self.gate:
                raise ValueError("an empty gate")
            self._gate.make_automaton()
            self.veto = frozenset(Category(c) for c in data.get("veto", ()))  # type: ignore[attr-defined]
            self.info: dict[str, object] = dict(data.get("info", {}))  # type: ignore[call-overload]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"QA model artefact is malformed: {exc!r}") from None

    def _automaton(self, rows: dict[str, tuple[float, ...]]) -> ahocorasick.Automaton:
        """The features of ``rows`` in one automaton, each standing for its row (numbered in
        the features' sorted order). Added commonest first (lowest idf): pyahocorasick looks a
        node's children up in the order they were added, so common characters are found
        early; what a scan finds, and in which order, is the same in any order of adding."""
        automaton = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        index: dict[str, int] = {}
        for feat in sorted(rows):
            index[feat] = len(self._rows)
            self._rows.append(rows[feat])
            self._lens.append(len(feat))
        for feat in sorted(rows, key=lambda f: (rows[f][0], f)):
            automaton.add_word(feat, index[feat])
        if rows:
            automaton.make_automaton()
        return automaton

    def gated(self, folded: str, sound: str) -> bool:
        """Whether a line is worth scoring: its sound string holds one of the gate's sound
        bigrams (one Aho-Corasick scan, stopped at the first)."""
        return next(self._gate.iter(sound), None) is not None

    def score(self, text: str) -> Scored:
        """Probabilities per category of one line (the gate applied: empty when it fails)."""
        folded, sound = fold_sounds(text)
        if not folded or not self.gated(folded, sound):
            return Scored({}, folded, sound)
        return Scored(self.score_folded(folded, sound), folded, sound)

    def score_folded(self, folded: str, sound: str) -> dict[Category, float]:
        """The probabilities of a folded line (what :func:`analyse` and the trainer's
        vectoriser compute, without building the feature names)."""
        found = set(map(_SECOND, self._char_ac.iter(folded)))
        found.update(map(_SECOND, self._sound_ac.iter(sound)))
        if not found:
            return {c: 1.0 / (1.0 + math.exp(-self.intercepts[c])) for c in self.categories}
        # the found rows summed column by column in one call, one row after another in the
        # set's order (numpy reduces the first axis row by row: Python's sums, to the bit)
        rows = self._weights.take(list(found), axis=0)
        totals: list[float] = np.add.reduce(rows, axis=0).tolist()
        norm = math.sqrt(totals[0]) or 1.0
        return {
            c: 1.0 / (1.0 + math.exp(-(b + t / norm)))
            for (c, b), t in zip(self._intercepts, totals[1:], strict=True)
        }

    def evidence(
        self, folded: str, sound: str, category: Category
    ) -> tuple[list[tuple[int, int, int, float]], float, float]:
        """Every n-gram of the line adding to ``category``'s score, where it is: ``(row,
        start, end, contribution)`` (each occurrence; a feature counts once in the score),
        with the logit without them (the intercept plus the rest) and the line's norm."""
        k = self.categories.index(category) + 1
        occurrences = [(r, e + 1 - self._lens[r], e + 1) for e, r in self._char_ac.iter(folded)]
        occurrences += [(r, e + 1 - self._lens[r], e + 1) for e, r in self._sound_ac.iter(sound)]
        rows = self._rows
        found = {r for r, _, _ in occurrences}
        norm = math.sqrt(sum(rows[r][0] for r in found)) or 1.0
        rest = self.intercepts[category] + sum(rows[r][k] for r in found if rows[r][k] <= 0) / norm
        adding = [(r, s, e, rows[r][k] / norm) for r, s, e in occurrences if rows[r][k] > 0]
        return adding, rest, norm

    def key_span(self, folded: str, sound: str, category: Category) -> tuple[int, int]:
        """``[start, end)`` in ``folded`` of the n-gram adding most to ``category``'s score."""
        k = self.categories.index(category) + 1
        rows, lens = self._rows, self._lens
        # the first of the heaviest in :func:`features`' order: characters before sounds,
        # shorter n-grams first, then by position
        best: tuple[float, int, int, int] | None = None
        for kind, (automaton, text, (low, high)) in enumerate(
            ((self._char_ac, folded, CHAR_N), (self._sound_ac, sound, SOUND_N))
        ):
            if not len(automaton):
                continue
            for end, row in automaton.iter(text):
                size = lens[row]
                if low <= size <= high:
                    key = (-rows[row][k], kind, size, end + 1 - size)
                    if best is None or key < best:
                        best = key
        return (0, len(folded)) if best is None else (best[3], best[3] + best[2])


def load_model(path: Path) -> QaModel:
    """Read a model artefact; raises :class:`ModelError` when it is missing or malformed."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot read the QA model {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ModelError(f"QA model {path} is not a JSON object")
    return QaModel(data)


def configured_model(settings: Settings) -> QaModel | None:
    """The learned second stage (``IVR_QA_MODEL_PATH``; a bad file is a :class:`ModelError`),
    or ``None`` when ``IVR_QA_MODEL=false`` (said so in the log: rules only)."""
    if not settings.qa_model:
        log.warning("QA's learned second stage is OFF (IVR_QA_MODEL=false): rules only")
        return None
    return load_model(settings.qa_model_path)
