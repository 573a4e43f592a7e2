"""The matcher's cheap tests lose no match: needed characters of a regex (qa.prefilter), the
pattern bit masks, the slip bits, the fuzzy sound-count test and the negation cue test, each
compared with the matcher that runs everything, on the labelled lines and on splices and
mutations of them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from qa_filter_support import unfiltered

from qa.compiled import CompiledRules
from qa.evaluation import parse_labelled
from qa.prefilter import needed_chars
from qa.rules import Speaker
from qa.text import fold

EVAL = Path(__file__).parent / "eval"


@pytest.mark.parametrize(
    ("pattern", "needs"),
    [
        ("保本", [{"保"}, {"本"}]),
        ("(保证|确保)收益", [{"保", "确"}, {"收"}, {"益"}]),
        ("(保证|确保)?收益", [{"收"}, {"益"}]),  # an optional group needs nothing
        ("(保证|收益?)", [{"保", "收"}]),
        ("(保证|.)", []),  # a branch that needs nothing: nothing
        ("[一二三]{1,3}份", [{"一", "二", "三"}, {"份"}]),
        ("[^,?]{0,8}没了", [{"没"}, {"了"}]),
        ("风险(?!测评)", [{"风"}, {"险"}]),  # a look-ahead needs nothing
    ],
)
def test_what_a_match_needs(pattern: str, needs: list[set[str]]) -> None:
    assert sorted(map(sorted, needed_chars(pattern))) == sorted(map(sorted, needs))


def lines() -> list[str]:
    base = [i.text for f in sorted(EVAL.glob("*.tsv")) for i in parse_labelled(f.read_text())]
    rng = random.Random(16)
    out = list(base)
    for _ in range(2500):
        a, b = rng.choice(base), rng.choice(base)
        s = a[: rng.randrange(len(a) + 1)] + b[rng.randrange(len(b) + 1) :]
        if s and rng.random() < 0.5:
            i = rng.randrange(len(s))
            s = s[:i] + rng.choice(a + b + "不没有，") + s[i + 1 :]
        out.append(s)
    return out


def test_every_pattern_match_holds_what_it_needs(shipped: CompiledRules) -> None:
    for pats in shipped.matcher._rule_patterns:
        for pat in pats:
            for line in lines()[:800]:
                folded = fold(line)
                if pat.rx.search(folded):
                    assert all(not need.isdisjoint(folded) for need in pat.need), pat.written


def test_the_cheap_tests_lose_no_match(shipped: CompiledRules) -> None:
    fast, slow = shipped.matcher, unfiltered(shipped)
    checked = 0
    for line in lines():
        for speaker in (None, Speaker.BOT):
            assert fast.scan(line, speaker) == slow.scan(line, speaker), line
            checked += 1
    assert checked > 5000


def test_a_regex_that_needs_nothing_always_runs(shipped: CompiledRules) -> None:
    assert needed_chars(".*") == ()
    free = [p for pats in shipped.matcher._rule_patterns for p in pats if not p.need]
    assert all(p.need_mask == 0 for p in free)
