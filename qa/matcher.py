"""The QA phrase matcher: prohibited wording in one line of speech (pure, no IO, no clock).

:class:`Matcher` is compiled once per rules version. Per line it does two ``str.translate``
passes (:func:`qa.text.fold`, :func:`qa.text.sounds`) and one Aho-Corasick scan
(pyahocorasick) of the sound string, which holds every rule phrase, pattern anchor, exclusion,
mandated safe wording and fuzzy anchor at once; everything else runs only around a candidate:

- a phrase found by sound is an ``exact`` match, a ``homophone`` (same toneless pinyin) or a
  ``near_homophone`` (same loose syllables, e.g. 分险 for 风险); phrases of at most
  ``strict_sound_max`` characters accept exact homophones only;
- a pattern rule's regexes run on the folded text, only when one of its anchors (matched by
  sound) occurs, and again on the text in exact-homophone codes (each Hanzi of the regex
  translated the same way), so 比存款还安权 matches what 比存款还安全 matches (``homophone``);
- phrases of at least ``fuzzy_min`` characters also match a window with one edit (two from 10
  characters) by rapidfuzz, tried once per phrase and line when one of its anchor bigrams
  occurs, never across a clause boundary or an inserted negation;
- a candidate inside one of the rule's ``exclude`` wordings or a mandated safe wording, or in a
  negating context (:class:`qa.context.ContextJudge`), is dropped;
- overlapping hits of one rule keep the longest.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

import ahocorasick
from rapidfuzz import fuzz

from qa.context import BOUNDARIES, ContextJudge, fold_regex
from qa.rules import Category, PhraseRule, QaRules, Severity, Speaker
from qa.text import (
    TONELESS,
    fold,
    is_hanzi,
    original_offsets,
    phrase_sounds,
    sounds,
    toneless,
    toneless_sounds,
)

MAX_LINE = 20_000  # characters matched per line; longer text is matched in overlapping pieces
HOMOPHONE_MIN = 4  # a pattern matched only by sound spans at least this many characters
FUNCTION_CHARS = frozenset("的地得是事在再了吗么嘛呢吧啊呀那哪他她它这着做作")


class MatchKind(StrEnum):
    EXACT = "exact"
    HOMOPHONE = "homophone"
    NEAR_HOMOPHONE = "near_homophone"
    FUZZY = "fuzzy"
    PATTERN = "pattern"


@dataclass(frozen=True, slots=True)
class Hit:
    """One prohibited wording in a line: where (offsets into the line as given), what was said,
    which rule and wording it matched, and how."""

    rule_id: str
    category: Category
    severity: Severity
    start: int
    end: int
    said: str
    wording: str
    how: MatchKind

    def as_dict(self) -> dict[str, object]:
        return {
            "rule": self.rule_id,
            "category": self.category.value,
            "severity": self.severity.value,
            "start": self.start,
            "end": self.end,
            "said": self.said,
            "wording": self.wording,
            "how": self.how.value,
        }


_PHRASE, _ANCHOR, _EXCLUDE, _SAFE, _FUZZY = range(5)


@dataclass(frozen=True, slots=True)
class _Entry:
    kind: int
    rule: int
    wording: str  # folded
    tones: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class _Pattern:
    """One written pattern of a rule, compiled for the folded text and for its exact-homophone
    codes (:func:`qa.text.toneless_sounds`)."""

    rule: int
    written: str
    rx: re.Pattern[str]
    by_sound: re.Pattern[str]
    anchors: frozenset[str]  # the rule's anchors (folded) this pattern may match; empty: any
    chars: frozenset[str]  # the Hanzi it spells
    codes: frozenset[str]  # and their homophone codes

    @classmethod
    def compile(cls, rule: int, written: str, anchors: Iterable[str]) -> _Pattern:
        folded = fold_regex(written)
        chars = frozenset(ch for ch in folded if is_hanzi(ch))
        return cls(
            rule,
            written,
            re.compile(folded, re.IGNORECASE),
            re.compile(folded.translate(TONELESS), re.IGNORECASE),
            # an anchor whose characters all occur in the pattern may be part of its match
            frozenset(a for a in (fold(x) for x in anchors) if a and set(a) <= set(folded)),
            chars,
            frozenset(toneless_sounds(ch) for ch in chars),
        )

    def may_slip(self, folded: str, homophones: str) -> bool:
        """Whether the line holds a homophone of one of its characters, written otherwise."""
        codes, chars = self.codes, self.chars
        return any(c in codes and ch not in chars for ch, c in zip(folded, homophones, strict=True))

    def plausible_slip(self, said: str) -> bool:
        """A match only by sound counts when it is long enough (``HOMOPHONE_MIN`` characters)
        and its slipped characters (homophones of its own, not written in it) are few and not
        function words (的 for 得 is grammar, not an ASR slip)."""
        if len(said) < HOMOPHONE_MIN:
            return False
        slips = [
            ch
            for ch in said
            if is_hanzi(ch) and ch not in self.chars and toneless_sounds(ch) in self.codes
        ]
        return 0 < len(slips) <= max(1, len(said) // 4) and not any(
            ch in FUNCTION_CHARS for ch in slips
        )


@dataclass(slots=True)
class _Candidate:
    rule: int
    start: int  # folded offsets
    end: int
    wording: str
    how: MatchKind


class Matcher:
    """Compiled rules of one version; :meth:`scan` finds the hits in one line."""

    def __init__(self, rules: QaRules) -> None:
        self.rules = rules
        self.version = rules.version
        self.judge = ContextJudge(rules.negation)
        self._rules: tuple[PhraseRule, ...] = rules.rules
        # each written pattern compiled twice (folded text; exact-homophone codes), run only
        # when one of the rule's anchors that it spells occurs (always, if it spells none)
        self._rule_patterns: list[tuple[_Pattern, ...]] = [
            tuple(_Pattern.compile(i, p, r.anchors) for p in r.patterns)
            for i, r in enumerate(self._rules)
        ]
        self._fuzzy: dict[str, str] = {}  # sound key of a long phrase -> its folded wording
        table: dict[str, list[_Entry]] = defaultdict(list)

        def add(text: str, entry_kind: int, rule: int) -> list[str]:
            folded = fold(text).strip(BOUNDARIES)
            keys = phrase_sounds(folded)
            tones = tuple(toneless(ch) for ch in folded)
            for key in keys:
                table[key].append(_Entry(entry_kind, rule, folded, tones))
            return sorted(keys)

        for i, rule in enumerate(self._rules):
            for phrase in rule.phrases:
                keys = add(phrase, _PHRASE, i)
                if len(keys[0]) >= rule.fuzzy_min:
                    for key in keys:
                        self._fuzzy[key] = fold(phrase)
                        # non-overlapping bigrams (and the last): one edit spares at least one
                        starts = {*range(0, len(key) - 1, 2), len(key) - 2}
                        for bigram in {key[j : j + 2] for j in starts}:
                            table[bigram].append(_Entry(_FUZZY, i, key))
            for anchor in rule.anchors:
                add(anchor, _ANCHOR, i)
            for wording in rule.exclude:
                add(wording, _EXCLUDE, i)
        safe = list(rules.safe_phrases)
        safe += [s.full_text for s in rules.mandatory.statements.values() if s.full_text]
        for wording in safe:
            for part in fold(wording).split(","):
                if len(part) >= 2:
                    add(part, _SAFE, -1)
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, tuple(entries))
        self._automaton.make_automaton()

    # -- scanning --------------------------------------------------------------------------

    def scan(self, text: str, speaker: Speaker | None = None) -> tuple[Hit, ...]:
        """Every prohibited wording in ``text`` (any script, any length; empty → none)."""
        if not text:
            return ()
        if len(text) > MAX_LINE:
            return self._scan_long(text, speaker)
        folded = fold(text)
        if not folded:
            return ()
        found = self._candidates(folded, sounds(folded), speaker)
        if not found:
            return ()
        offsets = original_offsets(text)
        return tuple(
            Hit(
                rule_id=self._rules[c.rule].id,
                category=self._rules[c.rule].category,
                severity=self._rules[c.rule].severity,
                start=offsets[c.start],
                end=offsets[c.end - 1] + 1,
                said=text[offsets[c.start] : offsets[c.end - 1] + 1],
                wording=c.wording,
                how=c.how,
            )
            for c in found
        )

    def _scan_long(self, text: str, speaker: Speaker | None) -> tuple[Hit, ...]:
        hits: dict[tuple[str, int], Hit] = {}
        step = MAX_LINE - 200
        for begin in range(0, len(text), step):
            for h in self.scan(text[begin : begin + MAX_LINE], speaker):
                moved = Hit(
                    h.rule_id,
                    h.category,
                    h.severity,
                    h.start + begin,
                    h.end + begin,
                    h.said,
                    h.wording,
                    h.how,
                )
                hits.setdefault((h.rule_id, moved.start), moved)
        return tuple(sorted(hits.values(), key=lambda h: (h.start, h.rule_id)))

    def _candidates(self, folded: str, sound: str, speaker: Speaker | None) -> list[_Candidate]:
        cands: list[_Candidate] = []
        anchored: dict[int, set[str]] = defaultdict(set)  # rule -> its anchors found
        fuzzy_at: dict[tuple[int, str], list[int]] = defaultdict(list)
        excluded: dict[int, list[tuple[int, int]]] = defaultdict(list)
        safe: list[tuple[int, int]] = []
        for last, entries in self._automaton.iter(sound):
            for e in entries:
                if e.kind == _FUZZY:
                    fuzzy_at[(e.rule, e.wording)].append(last - 1)
                    continue
                start, end = last - len(e.wording) + 1, last + 1
                if e.kind == _SAFE:
                    safe.append((start, end))
                elif e.kind == _EXCLUDE:
                    excluded[e.rule].append((start, end))
                elif e.kind == _ANCHOR:
                    anchored[e.rule].add(e.wording)
                else:
                    how = self._how(folded[start:end], e)
                    if how is not None:
                        cands.append(_Candidate(e.rule, start, end, e.wording, how))
        homophones: str | None = None
        for i, words in anchored.items():
            for pat in self._rule_patterns[i]:
                if pat.anchors and pat.anchors.isdisjoint(words):
                    continue
                matched: list[tuple[int, int]] = []
                for m in pat.rx.finditer(folded):
                    if m.end() > m.start() and not any(b in m.group() for b in BOUNDARIES):
                        cands.append(
                            _Candidate(i, m.start(), m.end(), pat.written, MatchKind.PATTERN)
                        )
                        matched.append((m.start(), m.end()))
                if homophones is None:
                    homophones = toneless_sounds(folded)
                if not pat.may_slip(folded, homophones):
                    continue  # nothing sounds like its words but is written otherwise
                for m in pat.by_sound.finditer(homophones):
                    if (
                        not any(b in m.group() for b in BOUNDARIES)
                        and not any(s < m.end() and m.start() < e for s, e in matched)
                        and pat.plausible_slip(folded[m.start() : m.end()])
                    ):
                        cands.append(
                            _Candidate(i, m.start(), m.end(), pat.written, MatchKind.HOMOPHONE)
                        )
        for (i, key), positions in fuzzy_at.items():
            if positions:
                found = self._fuzzy_candidate(i, key, positions, folded, sound, cands)
                if found is not None:
                    cands.append(found)
        if not cands:
            return []
        kept = [
            c
            for c in cands
            if self._applies(c.rule, speaker)
            and not _inside(c, excluded.get(c.rule, ()))
            and not (self._rules[c.rule].negatable and _overlaps(c, safe))
            and not (self._rules[c.rule].negatable and self.judge.negated(folded, c.start, c.end))
        ]
        return _longest_per_rule(kept)

    def _how(self, said: str, e: _Entry) -> MatchKind | None:
        if said == e.wording:
            return MatchKind.EXACT
        tones = tuple(toneless(ch) for ch in said)
        if tones == e.tones:
            return MatchKind.HOMOPHONE
        if len(e.wording) <= self._rules[e.rule].strict_sound_max:
            return None
        return MatchKind.NEAR_HOMOPHONE

    def _fuzzy_candidate(
        self,
        rule: int,
        key: str,
        positions: list[int],
        folded: str,
        sound: str,
        found: list[_Candidate],
    ) -> _Candidate | None:
        n = len(key)
        edits = 1 if n < 10 else 2
        lo, hi = max(0, min(positions) - n), min(len(sound), max(positions) + n + 1)
        if any(c.rule == rule and c.start < hi and lo < c.end for c in found):
            return None  # already matched exactly, by sound or by a pattern
        res = fuzz.partial_ratio_alignment(
            key, sound[lo:hi], score_cutoff=100.0 * (1 - edits / n) - 0.01
        )
        if res is None:
            return None
        start, end = lo + res.dest_start, lo + res.dest_end
        said = folded[start:end]
        wording = self._fuzzy[key]
        if any(b in said for b in BOUNDARIES) or abs(len(said) - n) > edits:
            return None
        if any(ch in self.judge.negator_chars and ch not in wording for ch in said):
            return None
        return _Candidate(rule, start, end, wording, MatchKind.FUZZY)

    def _applies(self, rule: int, speaker: Speaker | None) -> bool:
        return speaker is None or speaker in self._rules[rule].speakers


def _longest_per_rule(cands: list[_Candidate]) -> list[_Candidate]:
    """Overlapping candidates of one rule become the longest of them."""
    cands.sort(key=lambda c: (c.start, -(c.end - c.start)))
    kept: list[_Candidate] = []
    for c in cands:
        clash = next(
            (k for k in kept if k.rule == c.rule and k.start < c.end and c.start < k.end), None
        )
        if clash is None:
            kept.append(c)
        elif (c.end - c.start) > (clash.end - clash.start):
            kept[kept.index(clash)] = c
    return kept


def _inside(c: _Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= c.start and c.end <= e for s, e in spans)


def _overlaps(c: _Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s < c.end and c.start < e for s, e in spans)
