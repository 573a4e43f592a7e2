"""Rules first, the learned model second (pure): what one line of speech is flagged for.

:func:`check_line` runs the rules' matcher; their hits stay as they are (explainable, rule ids).
A category the rules did not flag on the line is then asked of the model (:mod:`qa.model`):
scored at or above the category's threshold, it becomes a :class:`ModelHit` (category, model
version, score, the whole sentence) for review, unless the context judge of the rules vetoes
it the same way it vetoes a rule match: the n-gram adding most to the score is negated,
reported or asked about (:class:`qa.context.ContextJudge`), or overlaps a mandated safe
wording; and every matched n-gram is looked at too (:func:`supported`): the hit stands only if
the score still reaches the threshold without the n-grams said inside a safe wording or a
negating context. A model hit never blocks a bot sentence (:func:`qa.verdict.check_bot_sentence`
blocks on rule hits only); it flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qa.matcher import MAX_LINE, Hit, Matcher
from qa.model import QaModel, Scored
from qa.rules import Category, Speaker
from qa.text import fold, fold_sounds

VETO_MIN_CHARS = 3  # the shortest n-gram the all-n-gram veto looks at (see ``supported``)


@dataclass(frozen=True, slots=True)
class ModelHit:
    """A line the model (not the rules) flags for one category, for review."""

    category: Category
    score: float
    model_version: str
    phrase: str  # the whole sentence

    def as_dict(self) -> dict[str, object]:
        return {
            "category": self.category.value,
            "score": round(self.score, 4),
            "model_version": self.model_version,
            "phrase": self.phrase,
        }


@dataclass(frozen=True, slots=True)
class LineCheck:
    """What one line is flagged for: rule hits, then model hits in other categories."""

    hits: tuple[Hit, ...]
    model_hits: tuple[ModelHit, ...]
    rules_version: str
    model_version: str | None

    @property
    def categories(self) -> frozenset[Category]:
        return frozenset(h.category for h in self.hits) | {m.category for m in self.model_hits}


class SafeWording:
    """The rules' mandated safe wordings, folded (a model hit inside one is vetoed)."""

    def __init__(self, matcher: Matcher) -> None:
        rules = matcher.rules
        texts = list(rules.safe_phrases)
        texts += [s.full_text for s in rules.mandatory.statements.values() if s.full_text]
        parts = {p for t in texts for p in fold(t).split(",") if len(p) >= 2}
        self.parts = tuple(sorted(parts, key=len, reverse=True))

    def overlaps(self, folded: str, start: int, end: int) -> bool:
        for part in self.parts:
            i = folded.find(part)
            while i >= 0:
                if i < end and start < i + len(part):
                    return True
                i = folded.find(part, i + 1)
        return False


@dataclass(frozen=True, slots=True)
class SecondStage:
    """A model with the safe wordings of the rules version it runs beside."""

    model: QaModel
    safe: SafeWording
    clean: LineCheck  # what a line with no hit is flagged for (one value, shared)

    @classmethod
    def of(cls, model: QaModel, matcher: Matcher) -> SecondStage:
        return cls(model, SafeWording(matcher), LineCheck((), (), matcher.version, model.version))


def model_hits(
    model: QaModel,
    matcher: Matcher,
    safe: SafeWording,
    text: str,
    flagged: frozenset[Category] = frozenset(),
) -> tuple[ModelHit, ...]:
    """The model's hits on ``text`` in categories not in ``flagged`` (vetoes applied)."""
    return vetted(model, matcher, safe, model.score(text), text, flagged)


def vetted(
    model: QaModel,
    matcher: Matcher,
    safe: SafeWording,
    scored: Scored,
    text: str,
    flagged: frozenset[Category],
) -> tuple[ModelHit, ...]:
    """The categories ``scored`` at or above their thresholds, less ``flagged`` and those the
    context vetoes, as model hits on ``text``."""
    if not scored.probabilities:
        return ()
    out: list[ModelHit] = []
    for cat, p in scored.probabilities.items():
        if cat in flagged or p < model.thresholds[cat]:
            continue
        start, end = model.key_span(scored.folded, scored.sound, cat)
        if safe.overlaps(scored.folded, start, end):
            continue
        if cat in model.veto and matcher.judge.negated(scored.folded, start, end):
            continue
        if not supported(model, matcher, safe, scored, cat):
            continue
        out.append(ModelHit(cat, p, model.version, text))
    return tuple(out)


def supported(
    model: QaModel, matcher: Matcher, safe: SafeWording, scored: Scored, cat: Category
) -> bool:
    """Whether ``cat``'s score still reaches its threshold on what the line says plainly:
    every matched n-gram of at least ``VETO_MIN_CHARS`` positions adding to it counts nothing
    when each of its occurrences lies in a mandated safe wording or (a veto category) in a
    negating context (shorter n-grams, a character or two, say too little to be vetoed)."""
    folded = scored.folded
    adding, rest, _norm = model.evidence(folded, scored.sound, cat)
    plain: dict[int, float] = {}
    vetoed: set[int] = set()
    for row, start, end, weight in adding:
        if row in plain:
            continue
        if end - start >= VETO_MIN_CHARS and (
            safe.overlaps(folded, start, end)
            or (cat in model.veto and matcher.judge.negated(folded, start, end))
        ):
            vetoed.add(row)
        else:
            plain[row] = weight
    logit = rest + sum(plain.values())
    return 1.0 / (1.0 + math.exp(-logit)) >= model.thresholds[cat]


def check_line(
    matcher: Matcher, stage: SecondStage | None, text: str, speaker: Speaker | None = None
) -> LineCheck:
    """Rule hits of ``text`` and, with a second stage, its hits in the other categories."""
    if stage is None or len(text) > MAX_LINE:
        hits = matcher.scan(text, speaker)
        if stage is None:
            return LineCheck(hits, (), matcher.version, None)
        scored = stage.model.score(text)
    else:
        folded, sound = fold_sounds(text)  # once for both stages
        hits = matcher.scan_folded(text, folded, sound, speaker)
        if not folded or not stage.model.gated(folded, sound):
            return _checked(matcher, stage, hits, ())
        scored = Scored(stage.model.score_folded(folded, sound), folded, sound)
    flagged = frozenset(h.category for h in hits)
    found = vetted(stage.model, matcher, stage.safe, scored, text, flagged)
    return _checked(matcher, stage, hits, found)


def _checked(
    matcher: Matcher, stage: SecondStage, hits: tuple[Hit, ...], found: tuple[ModelHit, ...]
) -> LineCheck:
    if not (hits or found) and stage.clean.rules_version == matcher.version:
        return stage.clean  # most lines: one shared value
    return LineCheck(hits, found, matcher.version, stage.model.version)
