"""Compliant context around a matched wording: negation, reported speech, questions (pure).

A wording such as 保本 is not a prohibited statement when the clause negates it (本产品不保本,
没有任何产品是零风险的), reports it as something forbidden (任何承诺保本的说法都是违规的) or asks
about it (这个保本吗). :class:`ContextJudge` decides that from the folded text of one line:
the cues before the match in the same clause are counted (an odd number negates: 不是不保本 is
still a promise), idioms that contain a cue but negate nothing (不仅, 不用担心) are skipped,
a reset word (但是, 而且) cuts the negation's reach, and each cue reaches at most its own gap.
The rest of the clause is then tried against the ``after`` regexes (…是不可能的, …吗?). A match
that starts with the 不 or 没 of an A-not-A question (会不会亏, 有没有风险) is a question too.
"""

from __future__ import annotations

import re
from itertools import repeat

from qa.rules import Negation
from qa.text import fold

BOUNDARIES = ",?"


def clause_bounds(folded: str, start: int, end: int) -> tuple[int, int]:
    """``[begin, stop)`` of the clause holding ``folded[start:end]``; ``stop`` includes the
    boundary character that ends it, if any."""
    begin = max(map(folded.rfind, BOUNDARIES, repeat(0), repeat(start))) + 1
    stop = len(folded)
    for b in BOUNDARIES:
        i = folded.find(b, end, stop)
        if i >= 0:
            stop = i + 1
    return begin, stop


class ContextJudge:
    """Compiled negation lists of one rules version."""

    def __init__(self, negation: Negation) -> None:
        self._gap = {fold(c): g for c, g in negation.cues.items()}
        self._cue_starts = frozenset(c[0] for c in self._gap if c)  # no such char: no cue
        entries: list[tuple[str, str]] = [("skip", fold(w)) for w in negation.not_cues]
        entries += [("reset", fold(w)) for w in negation.resets]
        entries += [("cue", c) for c in self._gap]
        # one alternation, longest wordings first, so 不用担心 wins over 不 and 但是 over 但; of
        # literals only (no groups: the regex engine then skips to a first character of one),
        # what a wording is read back from it (the first listed, as the alternation picks)
        entries.sort(key=lambda e: len(e[1]), reverse=True)
        self._kinds: dict[str, str] = {}
        for kind, wording in entries:
            self._kinds.setdefault(wording, kind)
        alternation = "|".join(re.escape(w) for _, w in entries)
        self._words = re.compile(alternation) if entries else None
        self._after = [re.compile(fold_regex(p)) for p in negation.after]

    def changes_negation(self, said: str, wording: str) -> bool:
        """Whether one of ``said`` and ``wording`` holds a negation cue the other does not (not
        a deposit is no fuzzy match of its a deposit, nor 不保本 of 保本, nor 和存款的区别 of
        和存款没区别: an edit that adds or drops a negation turns the meaning round)."""
        return any((c in said) != (c in wording) for c in self._gap)

    def negated(self, folded: str, start: int, end: int) -> bool:
        """Whether the clause around ``folded[start:end]`` makes it compliant wording."""
        if _a_not_a(folded, start):
            return True  # 会不会亏, 有没有风险: a question, not a statement
        begin, stop = clause_bounds(folded, start, end)
        prefix = folded[begin:start]
        cues: list[tuple[int, int]] = []  # (start, end) of negation cues after the last reset
        if self._words is not None and prefix and not self._cue_starts.isdisjoint(prefix):
            for m in self._words.finditer(prefix):
                kind = self._kinds[m.group()]
                if kind == "reset":
                    cues.clear()
                elif kind == "cue":
                    cues.append((m.start(), m.end()))
        for i in range(len(cues) - 1, -1, -1):
            cue_start, cue_end = cues[i]
            if len(prefix) - cue_end <= self._gap[prefix[cue_start:cue_end]]:
                # a cue right after another one is a double negation (不是不保本): no negation
                return not (i > 0 and cue_start - cues[i - 1][1] <= 1)
        rest = folded[end:stop]
        return any(p.match(rest) for p in self._after)


def _a_not_a(folded: str, start: int) -> bool:
    """Whether the match starts with the 不/没 of an A-not-A question (会不会, 有没有, 能不能)."""
    return (
        0 < start < len(folded) - 1
        and folded[start] in "不没"
        and folded[start - 1] == folded[start + 1]
    )


GAP = "[^,?不没非未无别]"  # what ``{gap:N}`` stands for: a gap that skips no clause end or negation
_GAP_MACRO = re.compile(r"\{gap:(\d{1,2})\}")


def fold_regex(pattern: str) -> str:
    """A regex written in ordinary text made to run on folded text: Hanzi simplified, digits to
    Hanzi digits, full-width to half-width; regex syntax (ASCII) is left as it is, and
    ``{gap:N}`` becomes up to N characters that are neither a clause end nor a negation."""
    pattern = _GAP_MACRO.sub(lambda m: GAP + "{0," + m.group(1) + "}", pattern)
    out = []
    for ch in pattern:
        if ord(ch) < 128:
            out.append(ch)
        else:
            folded = fold(ch)
            out.append(re.escape(folded) if folded in (",", "?") else folded)
    return "".join(out)
