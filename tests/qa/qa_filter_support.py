"""The QA matcher with every cheap test switched off: what its lossless tests are held to
(tests/qa/test_qa_prefilter.py, tests/qa/test_qa_fast_path.py)."""

from __future__ import annotations

import dataclasses

from qa.compiled import CompiledRules
from qa.matcher import Matcher
from qa.matching import LineBits


class _Everything(frozenset[str]):
    def isdisjoint(self, other: object) -> bool:
        return False


class _AllBits(LineBits):
    """Every need met and every character a possible slip for every pattern."""

    def __init__(self, shift: int) -> None:
        self.shift = shift

    def of(self, folded: str) -> int:
        return -1


def unfiltered(rules: CompiledRules) -> Matcher:
    """The same matcher with every cheap test switched off."""
    m = Matcher(rules.rules)
    m._rule_patterns = [
        tuple(dataclasses.replace(p, need_mask=0, code_mask=0) for p in pats)
        for pats in m._rule_patterns
    ]
    m._fuzzy_chars = {k: (c, n, 0) for k, (c, n, _need) in m._fuzzy_chars.items()}
    m._line_bits = _AllBits(m._line_bits.shift)
    m.judge._cue_starts = _Everything()
    return m
