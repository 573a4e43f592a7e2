"""The pieces the QA matcher is compiled from (pure, no IO): what a hit is and what a candidate
before the context tests is, what one key of its Aho-Corasick automaton stands for (each rule's
anchors numbered as bits), a pattern rule's regex compiled for the folded text and for its
sound codes, and per character the needed-character sets it meets and the patterns it may be
an ASR slip for, numbered as bits (:class:`LineBits`: one pass over a folded line).

:mod:`qa.matcher` builds these once per rules version and scans lines with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce
from operator import or_
from typing import NamedTuple

from qa.context import BOUNDARIES, fold_regex
from qa.prefilter import needed_chars
from qa.rules import Category, Severity
from qa.text import SOUND, fold, is_hanzi, sounds

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


@dataclass(slots=True)
class Candidate:
    """A wording found in a line before the context tests: the rule, where (folded offsets),
    what it matched and how."""

    rule: int
    start: int
    end: int
    wording: str
    how: MatchKind


def longest_per_rule(cands: list[Candidate]) -> list[Candidate]:
    """Overlapping candidates of one rule become the longest of them."""
    cands.sort(key=lambda c: (c.start, -(c.end - c.start)))
    kept: list[Candidate] = []
    for c in cands:
        clash = next(
            (k for k in kept if k.rule == c.rule and k.start < c.end and c.start < k.end), None
        )
        if clash is None:
            kept.append(c)
        elif (c.end - c.start) > (clash.end - clash.start):
            kept[kept.index(clash)] = c
    return kept


def one_clause(said: str) -> bool:
    return not any(b in said for b in BOUNDARIES)


def inside(c: Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s <= c.start and c.end <= e for s, e in spans)


def overlaps(c: Candidate, spans: Iterable[tuple[int, int]]) -> bool:
    return any(s < c.end and c.start < e for s, e in spans)


PHRASE, ANCHOR, EXCLUDE, SAFE, FUZZY = range(5)  # what an automaton key stands for


@dataclass(frozen=True, slots=True)
class Entry:
    kind: int
    rule: int
    wording: str  # folded
    tones: tuple[str, ...] = ()


class Found(NamedTuple):
    """What one key of the automaton stands for, split by kind (built once per rules version):
    rule phrases, anchors ``(rule, bits)`` (one pair per rule: the bits of its anchor wordings,
    :meth:`AnchorBits.bit`), exclusions ``(rule, length)``, the length of a mandated safe
    wording (0: none) and fuzzy phrase keys ``(rule, key)`` it is a bigram of."""

    phrases: tuple[Entry, ...]
    anchors: tuple[tuple[int, int], ...]
    excludes: tuple[tuple[int, int], ...]
    safe_len: int
    fuzzy: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, entries: list[Entry], anchor_bits: AnchorBits) -> Found:
        anchors: dict[int, int] = {}
        for e in entries:
            if e.kind == ANCHOR:
                anchors[e.rule] = anchors.get(e.rule, 0) | anchor_bits.bit(e.rule, e.wording)
        return cls(
            tuple(e for e in entries if e.kind == PHRASE),
            tuple(anchors.items()),
            tuple((e.rule, len(e.wording)) for e in entries if e.kind == EXCLUDE),
            max((len(e.wording) for e in entries if e.kind == SAFE), default=0),
            tuple((e.rule, e.wording) for e in entries if e.kind == FUZZY),
        )


class AnchorBits:
    """Each rule's anchor wordings (folded) numbered as bits of that rule: a line's anchors of
    a rule are one integer (a cheap key for the matcher's remembered pattern gates)."""

    def __init__(self) -> None:
        self._bits: dict[tuple[int, str], int] = {}
        self._words: dict[int, list[tuple[int, str]]] = {}

    def bit(self, rule: int, wording: str) -> int:
        found = self._bits.get((rule, wording))
        if found is None:
            words = self._words.setdefault(rule, [])
            found = self._bits[(rule, wording)] = 1 << len(words)
            words.append((found, wording))
        return found

    def words(self, rule: int, bits: int) -> set[str]:
        """The anchor wordings of ``rule`` that ``bits`` stand for."""
        return {w for bit, w in self._words.get(rule, ()) if bits & bit}


@dataclass(frozen=True, slots=True)
class Pattern:
    """One written pattern of a rule, compiled for the folded text and for its sound
    codes (:func:`qa.text.sounds`: loose toneless syllables, the slips ASR makes)."""

    rule: int
    written: str
    rx: re.Pattern[str]
    by_sound: re.Pattern[str]
    anchors: frozenset[str]  # the rule's anchors (folded) this pattern may match; empty: any
    chars: frozenset[str]  # the Hanzi it spells
    codes: frozenset[str]  # and their sound codes
    need: tuple[frozenset[str], ...]  # a line must hold one of each to match (qa.prefilter)
    need_codes: tuple[frozenset[str], ...]  # the same for the sound codes
    clauses: bool  # it writes a clause boundary (","): its matches may span clauses
    need_mask: int = 0  # the bits of ``need`` in the matcher's :class:`Needs` (set there)
    code_mask: int = 0  # and of ``need_codes``
    slip_bit: int = 0  # its bit in the matcher's :class:`SlipBits` (set there)

    @classmethod
    def compile(cls, rule: int, written: str, anchors: Iterable[str]) -> Pattern:
        folded = fold_regex(written)
        chars = frozenset(ch for ch in folded if is_hanzi(ch))
        by_sound = folded.translate(SOUND)
        return cls(
            rule,
            written,
            re.compile(folded, re.IGNORECASE),
            re.compile(by_sound, re.IGNORECASE),
            # an anchor whose characters all occur in the pattern may be part of its match
            frozenset(a for a in (fold(x) for x in anchors) if a and set(a) <= set(folded)),
            chars,
            frozenset(sounds(ch) for ch in chars),
            needed_chars(folded, ignore_case=True),
            needed_chars(by_sound, ignore_case=True),
            "," in folded,
        )

    def may_slip(self, ch: str) -> bool:
        """Whether ``ch`` sounds like one of its characters but is not one of them (a line
        without such a character cannot match its regex by sound and not on the text)."""
        return ch not in self.chars and sounds(ch) in self.codes

    def plausible_slip(self, said: str) -> bool:
        """A match only by sound counts when it is long enough (``HOMOPHONE_MIN`` characters)
        and its slipped characters (homophones of its own, not written in it) are few and not
        only function words (的 for 得 is grammar, not an ASR slip; a function word in a gap
        that sounds like one of the pattern's is no slip either, so it is not counted)."""
        if len(said) < HOMOPHONE_MIN:
            return False
        slips = [
            ch
            for ch in said
            if is_hanzi(ch)
            and ch not in self.chars
            and ch not in FUNCTION_CHARS
            and sounds(ch) in self.codes
        ]
        return 0 < len(slips) <= max(1, len(said) // 4)


class Needs:
    """Every pattern's needed character sets numbered as bits: per line, one pass over its
    distinct characters gives the bits it satisfies, and a pattern may match only when all its
    bits are among them (one integer test per pattern instead of one set test per need)."""

    def __init__(self) -> None:
        self._bits: dict[frozenset[str], int] = {}
        self.by_char: dict[str, int] = {}

    def mask(self, needs: Iterable[frozenset[str]]) -> int:
        out = 0
        for need in needs:
            bit = self._bits.get(need)
            if bit is None:
                bit = self._bits[need] = 1 << len(self._bits)
                for ch in need:
                    self.by_char[ch] = self.by_char.get(ch, 0) | bit
            out |= bit
        return out

    @property
    def count(self) -> int:
        """How many need bits there are (the next free bit)."""
        return len(self._bits)


class SlipBits(dict[str, int]):
    """Per character, the bits of the patterns it may be a slip for (:meth:`Pattern.may_slip`)
    that :meth:`Pattern.plausible_slip` counts (a Hanzi, not a function word: a line without
    one cannot make a match by sound), computed on first sight and kept."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        super().__init__()
        self._patterns = tuple(patterns)

    def __missing__(self, ch: str) -> int:
        bits = 0
        if is_hanzi(ch) and ch not in FUNCTION_CHARS:
            bits = reduce(or_, (p.slip_bit for p in self._patterns if p.may_slip(ch)), 0)
        self[ch] = bits
        return bits


class LineBits:
    """Per folded character, the need bits it and its sound code satisfy (:class:`Needs`) and,
    shifted left by ``shift``, the slip bits of the patterns it may be a slip for
    (:class:`SlipBits`): one pass over a folded line gives what its characters and its sound
    string meet (each code of the sound string is one of its characters' own). A plain
    dictionary filled on first sight: its lookups stay C calls."""

    def __init__(self, needs: Needs, slips: SlipBits, shift: int) -> None:
        self._needs = needs.by_char
        self._slips = slips
        self.shift = shift
        self._bits: dict[str, int] = {}

    def of(self, folded: str) -> int:
        """The need bits and the shifted slip bits of a folded line."""
        bits = self._bits
        try:
            return reduce(or_, map(bits.__getitem__, folded), 0)
        except KeyError:
            needs = self._needs
            for ch in set(folded).difference(bits):
                code = sounds(ch)
                bits[ch] = needs.get(ch, 0) | needs.get(code, 0) | self._slips[ch] << self.shift
            return reduce(or_, map(bits.__getitem__, folded), 0)
