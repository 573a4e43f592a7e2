"""The QA phrase matcher: prohibited wording in one line of speech (pure, no IO, no clock).

:class:`Matcher` is compiled once per rules version. Per line it does one ``str.translate``
pass (:func:`qa.text.fold_sounds`: the folded text and its sound codes) and one Aho-Corasick
scan (pyahocorasick) of the sound string, which holds every rule phrase, pattern anchor, exclusion,
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

Cheap lossless tests decide what runs (tests/qa/test_qa_prefilter.py holds them to the
matcher with every test off): a pattern runs only when a line meets its need bits (and, by
sound, holds a character that may be a slip for it), remembered per rule, found anchors and
the rule's bits; a fuzzy phrase only on a line holding enough of its sounds and not already
matched there; the negation test once per span.

The pieces it is compiled from (:class:`Hit`, automaton entries, compiled patterns, need, slip
and anchor bits, candidates) are in :mod:`qa.matching`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import replace
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
    AnchorBits,
    Candidate,
    Entry,
    Found,
    Hit,
    LineBits,
    MatchKind,
    Needs,
    Pattern,
    SlipBits,
    inside,
    longest_per_rule,
    one_clause,
    overlaps,
)
from qa.rules import PhraseRule, QaRules, Speaker
from qa.text import fold, fold_sounds, original_offsets, phrase_sounds, toneless

__all__ = ["Hit", "MatchKind", "Matcher"]

MAX_LINE = 20_000  # characters matched per line; longer text is matched in overlapping pieces
GATES_MAX = 50_000  # remembered (rule, anchors found) -> patterns to run; bounded memory
FUZZY_TWO_EDITS = 10  # phrases of this many sounds may match with two edits, shorter with one


class _Run(NamedTuple):
    """A pattern to run on a line: on its text, on its sound string (see ``_gated``)."""

    pattern: Pattern
    text: bool
    by_sound: bool


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
        # per character: the need bits it meets and (shifted) the patterns it may slip for
        shift = self._needs.count
        self._line_bits = LineBits(
            self._needs, SlipBits(p for pats in self._rule_patterns for p in pats), shift
        )
        # per rule, every need bit of its patterns (text and sound) and their slip bits
        self._rule_masks = [
            reduce(or_, (p.need_mask | p.code_mask | p.slip_bit << shift for p in pats), 0)
            for pats in self._rule_patterns
        ]
        self._anchor_bits = AnchorBits()
        self._gates: dict[tuple[int, int, int], tuple[_Run, ...]] = {}
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
            self._automaton.add_word(key, Found.of(entries, self._anchor_bits))
        self._automaton.make_automaton()

    def _gated(self, rule: int, anchors: int, bits: int) -> tuple[_Run, ...]:
        """The rule's patterns that may run when its anchors of bits ``anchors`` occurred
        (those that spell one of them, or none) on a line whose characters and sound codes
        give the :class:`LineBits` ``bits`` (the need bits met; the patterns a character may
        be a slip for): each with whether its regex may match the text, and the sound string
        with a slip (remembered per anchors and the bits of the rule's patterns)."""
        key = (rule, anchors, bits & self._rule_masks[rule])
        runs = self._gates.get(key)
        if runs is None:
            words = self._anchor_bits.words(rule, anchors)
            shift = self._line_bits.shift
            have, slips = bits & ((1 << shift) - 1), bits >> shift
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
        folded, sound = fold_sounds(text)
        return self.scan_folded(text, folded, sound, speaker)

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

    def _candidates(self, folded: str, sound: str, speaker: Speaker | None) -> list[Candidate]:
        cands: list[Candidate] = []
        anchored: dict[int, int] = {}  # rule -> the bits of its anchors found
        fuzzy_at: dict[tuple[int, str], list[int]] = {}
        excluded: dict[int, list[tuple[int, int]]] = {}
        safe: list[tuple[int, int]] = []
        for last, (phrases, anchors, excludes, safe_len, fuzzy) in self._automaton.iter(sound):
            for rule, bits in anchors:
                anchored[rule] = anchored.get(rule, 0) | bits
            for fuzzy_key in fuzzy:
                at = fuzzy_at.get(fuzzy_key)
                if at is None:
                    fuzzy_at[fuzzy_key] = [last - 1]
                else:
                    at.append(last - 1)
            for rule, length in excludes:
                excluded.setdefault(rule, []).append((last - length + 1, last + 1))
            if safe_len:
                safe.append((last - safe_len + 1, last + 1))
            for e in phrases:
                start, end = last - len(e.wording) + 1, last + 1
                how = self._how(folded[start:end], e)
                if how is not None:
                    cands.append(Candidate(e.rule, start, end, e.wording, how))
        if anchored:
            self._pattern_candidates(anchored, folded, sound, cands)
        if fuzzy_at:
            self._fuzzy_candidates(fuzzy_at, folded, sound, cands)
        if not cands:
            return []
        rules, judge = self._rules, self.judge
        negated: dict[tuple[int, int], bool] = {}  # per span: candidates of rules share them
        kept = []
        for c in cands:
            rule = rules[c.rule]
            if speaker is not None and speaker not in rule.speakers:
                continue
            spans = excluded.get(c.rule)
            if spans and inside(c, spans):
                continue
            if rule.negatable:
                if safe and overlaps(c, safe):
                    continue
                span = (c.start, c.end)
                no = negated.get(span)
                if no is None:
                    no = negated[span] = judge.negated(folded, c.start, c.end)
                if no:
                    continue
            kept.append(c)
        return longest_per_rule(kept)

    def _pattern_candidates(
        self, anchored: dict[int, int], folded: str, sound: str, cands: list[Candidate]
    ) -> None:
        """The pattern rules whose anchors occurred, on the folded text and by sound."""
        # the need bits the line and its sound codes meet and the patterns its characters
        # may be slips for, in one pass over its characters
        bits = self._line_bits.of(folded)
        gates, masks = self._gates, self._rule_masks
        for i, anchors in anchored.items():
            runs = gates.get((i, anchors, bits & masks[i]))
            if runs is None:
                runs = self._gated(i, anchors, bits)
            for pat, text, by_sound in runs:
                matched: list[tuple[int, int]] = []
                # a regex runs only on a line holding one character of each set it needs
                # search, then every match from the first one on (most runs find none)
                if text and (first := pat.rx.search(folded)) is not None:
                    for m in pat.rx.finditer(folded, first.start()):
                        start, end = m.span()
                        if end > start and (pat.clauses or one_clause(m.group())):
                            cands.append(Candidate(i, start, end, pat.written, MatchKind.PATTERN))
                            matched.append((start, end))
                if not by_sound or (first := pat.by_sound.search(sound)) is None:
                    continue  # by sound it cannot match, or only where the text did
                for m in pat.by_sound.finditer(sound, first.start()):
                    start, end = m.span()
                    if (
                        (pat.clauses or one_clause(m.group()))
                        and not any(s < end and start < e for s, e in matched)
                        and pat.plausible_slip(folded[start:end])
                    ):
                        cands.append(Candidate(i, start, end, pat.written, MatchKind.HOMOPHONE))

    def _fuzzy_candidates(
        self,
        fuzzy_at: dict[tuple[int, str], list[int]],
        folded: str,
        sound: str,
        cands: list[Candidate],
    ) -> None:
        """The long phrases one of whose anchor bigrams occurred, tried by rapidfuzz."""
        line_sounds = set(sound)
        spans: dict[int, list[tuple[int, int]]] | None = None  # per rule: its candidates
        for (i, key), positions in fuzzy_at.items():
            # a window within e edits of a phrase of n sounds shares at least n - 2e of them
            # with it: a line holding fewer cannot match (nor can a region shorter than
            # n - e, whatever it holds: the match would not count)
            chars, counts, need = self._fuzzy_chars[key]
            shared = chars.intersection(line_sounds)
            if (len(shared) if counts is None else sum(map(counts.__getitem__, shared))) < need:
                continue
            if spans is None:
                spans = {}
                for c in cands:
                    spans.setdefault(c.rule, []).append((c.start, c.end))
            n = len(key)
            lo, hi = max(0, min(positions) - n), min(len(sound), max(positions) + n + 1)
            if any(s < hi and lo < e for s, e in spans.get(i, ())):
                continue  # already matched exactly, by sound, by a pattern or by rapidfuzz
            found = self._fuzzy_candidate(i, key, lo, hi, folded, sound)
            if found is not None:
                cands.append(found)
                spans.setdefault(i, []).append((found.start, found.end))

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
        self, rule: int, key: str, lo: int, hi: int, folded: str, sound: str
    ) -> Candidate | None:
        """The window ``sound[lo:hi]`` matched to a long phrase's sound ``key`` by rapidfuzz."""
        n = len(key)
        edits = 1 if n < FUZZY_TWO_EDITS else 2
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
        return Candidate(rule, start, end, wording, MatchKind.FUZZY)
