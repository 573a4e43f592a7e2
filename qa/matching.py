"""The pieces the QA matcher is compiled from (pure, no IO): what a hit is, what one key of its
Aho-Corasick automaton stands for, a pattern rule's regex compiled for the folded text and for
its sound codes, and the needed-character sets of every pattern numbered as bits.

:mod:`qa.matcher` builds these once per rules version and scans lines with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import reduce
from itertools import repeat
from operator import or_
from typing import NamedTuple

from qa.context import fold_regex
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


PHRASE, ANCHOR, EXCLUDE, SAFE, FUZZY = range(5)  # what an automaton key stands for


@dataclass(frozen=True, slots=True)
class Entry:
    kind: int
    rule: int
    wording: str  # folded
    tones: tuple[str, ...] = ()


class Found(NamedTuple):
    """What one key of the automaton stands for, split by kind (built once per rules version):
    rule phrases, anchors ``(rule, wording)``, exclusions ``(rule, length)``, the length of a
    mandated safe wording (0: none) and fuzzy phrase keys ``(rule, key)`` it is a bigram of."""

    phrases: tuple[Entry, ...]
    anchors: tuple[tuple[int, str], ...]
    excludes: tuple[tuple[int, int], ...]
    safe_len: int
    fuzzy: tuple[tuple[int, str], ...]

    @classmethod
    def of(cls, entries: list[Entry]) -> Found:
        return cls(
            tuple(e for e in entries if e.kind == PHRASE),
            tuple((e.rule, e.wording) for e in entries if e.kind == ANCHOR),
            tuple((e.rule, len(e.wording)) for e in entries if e.kind == EXCLUDE),
            max((len(e.wording) for e in entries if e.kind == SAFE), default=0),
            tuple((e.rule, e.wording) for e in entries if e.kind == FUZZY),
        )


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

    def of(self, chars: Iterable[str]) -> int:
        """The bits ``chars`` satisfy."""
        return reduce(or_, map(self.by_char.get, chars, repeat(0)), 0)


class SlipBits(dict[str, int]):
    """Per character, the bits of the patterns it may be a slip for (:meth:`Pattern.may_slip`),
    computed on first sight and kept: per line, one pass over its distinct characters gives the
    patterns worth running by sound (one integer test each)."""

    def __init__(self, patterns: Iterable[Pattern]) -> None:
        super().__init__()
        self._patterns = tuple(patterns)

    def __missing__(self, ch: str) -> int:
        bits = reduce(or_, (p.slip_bit for p in self._patterns if p.may_slip(ch)), 0)
        self[ch] = bits
        return bits

    def of(self, chars: Iterable[str]) -> int:
        """The bits of the patterns one of ``chars`` may be a slip for."""
        return reduce(or_, map(self.__getitem__, chars), 0)
