"""The QA phrase matcher: prohibited wording in one line of speech (pure, no IO, no clock).

:class:`Matcher` is compiled once per rules version. Per line it does two ``str.translate``
passes (:func:`qa.text.fold`, :func:`qa.text.sounds`) and one Aho-Corasick scan
(pyahocorasick) of the sound string, which holds every rule phrase, pattern anchor, exclusion,
mandated safe wording and fuzzy anchor at once; everything else runs only around a candidate:

- a phrase found by sound is an ``exact`` match, a ``homophone`` (same toneless pinyin) or a
  ``near_homophone`` (same loose syllables, e.g. 分险 for 风险); phrases of at most
  ``strict_sound_max`` characters accept exact homophones only;
- a pattern rule's regexes run on the folded text, only when one of its anchors (matched by
  sound) occurs, and again on the sound string (each Hanzi of the regex translated the same
  way), so 比存款还安权 and 跟纯在银行没两样 match what 比存款还安全 and 跟存在银行没两样 match
  (``homophone``: a few slipped characters, none a function word);
- phrases of at least ``fuzzy_min`` characters also match a window with one edit (two from 10
  characters) by rapidfuzz, tried once per phrase and line when one of its anchor bigrams
  occurs, never across a clause boundary nor with a negation inserted or dropped;
- a candidate inside one of the rule's ``exclude`` wordings or a mandated safe wording, or in a
  negating context (:class:`qa.context.ContextJudge`), is dropped;
- overlapping hits of one rule keep the longest.

The pieces it is compiled from (:class:`Hit`, automaton entries, compiled patterns, need bits)
are in :mod:`qa.matching`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import reduce
from operator import or_
from typing import NamedTuple

import ahocorasick
from rapidfuzz import fuzz

from qa.context import BOUNDARIES, ContextJudge
from qa.matching import (
    ANCHOR,
    EXCLUDE,
    FUZZY,
    PHRASE,
    SAFE,
    Entry,
    Found,
    Hit,
    MatchKind,
    Needs,
    Pattern,
    SlipBits,
)
from qa.rules import PhraseRule, QaRules, Speaker
from qa.text import fold, original_offsets, phrase_sounds, sounds, toneless

__all__ = ["Hit", "MatchKind", "Matcher"]

MAX_LINE = 20_000  # characters matched per line; longer text is matched in overlapping pieces
GATES_MAX = 50_000  # remembered (rule, anchors found) -> patterns to run; bounded memory
FUZZY_TWO_EDITS = 10  # phrases of this many sounds may match with two edits, shorter with one


class _Run(NamedTuple):
    """A pattern to run on a line: on its text, on its sound string (see ``_gated``)."""

    pattern: Pattern
    text: bool
    by_sound: bool


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
        # each written pattern compiled twice (folded text; sound codes), run only
        # when one of the rule's anchors that it spells occurs (always, if it spells none)
        self._needs = Needs()
        self._rule_patterns: list[tuple[Pattern, ...]] = [
            tuple(self._with_masks(Pattern.compile(i, p, r.anchors)) for p in r.patterns)
            for i, r in enumerate(self._rules)
        ]
        # each pattern's own bit: the characters of a line that may be slips for it
        count = iter(range(sum(map(len, self._rule_patterns))))
        self._rule_patterns = [
            tuple(replace(p, slip_bit=1 << next(count)) for p in pats)
            for pats in self._rule_patterns
        ]
        self._slips = SlipBits(p for pats in self._rule_patterns for p in pats)
        # per rule, every need bit of its patterns (text and sound)
        self._rule_masks = [
            reduce(or_, (p.need_mask | p.code_mask for p in pats), 0)
            for pats in self._rule_patterns
        ]
        self._rule_slips = [
            reduce(or_, (p.slip_bit for p in pats), 0) for pats in self._rule_patterns
        ]
        self._gates: dict[tuple[int, frozenset[str], int, int], tuple[_Run, ...]] = {}
        self._fuzzy: dict[str, str] = {}  # sound key of a long phrase -> its folded wording
        # its characters and how often each occurs in it (a cheap test before rapidfuzz)
        self._fuzzy_chars: dict[str, tuple[frozenset[str], dict[str, int] | None, int]] = {}
        table: dict[str, list[Entry]] = defaultdict(list)

        def add(text: str, entry_kind: int, rule: int) -> list[str]:
            folded = fold(text).strip(BOUNDARIES)
            keys = phrase_sounds(folded)
            tones = tuple(toneless(ch) for ch in folded)
            for key in keys:
                table[key].append(Entry(entry_kind, rule, folded, tones))
            return sorted(keys)

        for i, rule in enumerate(self._rules):
            for phrase in rule.phrases:
                keys = add(phrase, PHRASE, i)
                if len(keys[0]) >= rule.fuzzy_min:
                    for key in keys:
                        self._fuzzy[key] = fold(phrase)
                        edits = 1 if len(key) < FUZZY_TWO_EDITS else 2
                        counts = Counter(key)  # None: each sound once (then a length test)
                        self._fuzzy_chars[key] = (
                            frozenset(key),
                            dict(counts) if max(counts.values()) > 1 else None,
                            len(key) - 2 * edits,
                        )
                        # non-overlapping bigrams (and the last): one edit spares at least one
                        starts = {*range(0, len(key) - 1, 2), len(key) - 2}
                        for bigram in {key[j : j + 2] for j in starts}:
                            table[bigram].append(Entry(FUZZY, i, key))
            for anchor in rule.anchors:
                add(anchor, ANCHOR, i)
            for wording in rule.exclude:
                add(wording, EXCLUDE, i)
        safe = list(rules.safe_phrases)
        safe += [s.full_text for s in rules.mandatory.statements.values() if s.full_text]
        for wording in safe:
            for part in fold(wording).split(","):
                if len(part) >= 2:
                    add(part, SAFE, -1)
        self._automaton = ahocorasick.Automaton()
        for key, entries in table.items():
            self._automaton.add_word(key, Found.of(entries))
        self._automaton.make_automaton()

    def _gated(self, rule: int, words: set[str], have: int, slips: int) -> tuple[_Run, ...]:
        """The rule's patterns that may run when ``words`` of its anchors occurred (those that
        spell one of them, or none) on a line whose characters and sound codes satisfy the
        need bits ``have``, and whose characters may be slips for the patterns of ``slips``:
        each with whether its regex may match the text, and the sound string with a slip
        (remembered per set of anchors and the bits of the rule's patterns)."""
        key = (
            rule,
            frozenset(words),
            have & self._rule_masks[rule],
            slips & self._rule_slips[rule],
        )
        runs = self._gates.get(key)
        if runs is None:
            runs = tuple(
                _Run(p, text, by_sound)
                for p in self._rule_patterns[rule]
                if not (p.anchors and p.anchors.isdisjoint(words))
                for text, by_sound in [
                    (
                        have & p.need_mask == p.need_mask,
                        have & p.code_mask == p.code_mask and bool(slips & p.slip_bit),
                    )
                ]
                if text or by_sound
            )
            if len(self._gates) < GATES_MAX:
                self._gates[key] = runs
        return runs

    def _with_masks(self, pat: Pattern) -> Pattern:
        return replace(
            pat, need_mask=self._needs.mask(pat.need), code_mask=self._needs.mask(pat.need_codes)
        )

    # -- scanning --------------------------------------------------------------------------

    def scan(self, text: str, speaker: Speaker | None = None) -> tuple[Hit, ...]:
        """Every prohibited wording in ``text`` (any script, any length; empty → none)."""
        if not text:
            return ()
        if len(text) > MAX_LINE:
            return self._scan_long(text, speaker)
        folded = fold(text)
        return self.scan_folded(text, folded, sounds(folded), speaker)

    def scan_folded(
        self, text: str, folded: str, sound: str, speaker: Speaker | None = None
    ) -> tuple[Hit, ...]:
        """:meth:`scan` of a line of at most ``MAX_LINE`` characters already folded
        (``folded = fold(text)``, ``sound = sounds(folded)``: computed once for both stages)."""
        if not folded:
            return ()
        found = self._candidates(folded, sound, speaker)
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
        for last, found in self._automaton.iter(sound):
            phrases, anchors, excludes, safe_len, fuzzy = found
            for rule, wording in anchors:
                anchored[rule].add(wording)
            for fuzzy_key in fuzzy:
                fuzzy_at[fuzzy_key].append(last - 1)
            for rule, length in excludes:
                excluded[rule].append((last - length + 1, last + 1))
            if safe_len:
                safe.append((last - safe_len + 1, last + 1))
            for e in phrases:
                start, end = last - len(e.wording) + 1, last + 1
                how = self._how(folded[start:end], e)
                if how is not None:
                    cands.append(_Candidate(e.rule, start, end, e.wording, how))
        if anchored:
            self._pattern_candidates(anchored, folded, sound, cands)
        line_sounds = set(sound) if fuzzy_at else None
        for (i, key), positions in fuzzy_at.items():
            # a window within e edits of a phrase of n sounds shares at least n - 2e of them
            # with it: a line holding fewer cannot match (nor can a region shorter than
            # n - e, whatever it holds: the match would not count)
            chars, counts, need = self._fuzzy_chars[key]
            assert line_sounds is not None
            shared = chars.intersection(line_sounds)
            if (len(shared) if counts is None else sum(counts[c] for c in shared)) < need:
                continue
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

    def _pattern_candidates(
        self, anchored: dict[int, set[str]], folded: str, sound: str, cands: list[_Candidate]
    ) -> None:
        """The pattern rules whose anchors occurred, on the folded text and by sound."""
        # the need bits the line satisfies (its characters and its sound codes in one pass;
        # a character's bits and a code's bits are distinct, so one set serves both tests)
        have = self._needs.of(set(folded + sound))
        slips = self._slips.of(set(folded))  # the patterns a character may be a slip for
        for i, words in anchored.items():
            for pat, text, by_sound in self._gated(i, words, have, slips):
                matched: list[tuple[int, int]] = []
                # a regex runs only on a line holding one character of each set it needs
                if text:
                    for m in pat.rx.finditer(folded):
                        if m.end() > m.start() and (pat.clauses or _one_clause(m.group())):
                            cands.append(
                                _Candidate(i, m.start(), m.end(), pat.written, MatchKind.PATTERN)
                            )
                            matched.append((m.start(), m.end()))
                if not by_sound:
                    continue  # by sound it cannot match, or only where the text did
                for m in pat.by_sound.finditer(sound):
                    if (
                        (pat.clauses or _one_clause(m.group()))
                        and not any(s < m.end() and m.start() < e for s, e in matched)
                        and pat.plausible_slip(folded[m.start() : m.end()])
                    ):
                        cands.append(
                            _Candidate(i, m.start(), m.end(), pat.written, MatchKind.HOMOPHONE)
                        )

    def _how(self, said: str, e: Entry) -> MatchKind | None:
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
        edits = 1 if n < FUZZY_TWO_EDITS else 2
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
        if self.judge.changes_negation(said, wording):
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


def _one_clause(said: str) -> bool:
    return not any(b in said for b in BOUNDARIES)


def _inside(c: _Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= c.start and c.end <= e for s, e in spans)


def _overlaps(c: _Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s < c.end and c.start < e for s, e in spans)
