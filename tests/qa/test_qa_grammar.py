"""The concept grammar's synthetic training lines (qa.grammar): made from the shipped rules'
classes, deterministic, labelled as the rules judge them."""

from __future__ import annotations

import pytest

from qa.compiled import CompiledRules
from qa.grammar import grammar_lines
from qa.rules import Category


def test_the_same_seed_writes_the_same_distinct_lines(shipped: CompiledRules) -> None:
    lines = grammar_lines(shipped.rules.classes, 40, 80)
    assert lines == grammar_lines(shipped.rules.classes, 40, 80)
    assert lines != grammar_lines(shipped.rules.classes, 40, 80, seed=1)
    assert len({text for _, text in lines}) == len(lines) == 3 * 40 + 80
    for cat in Category:
        assert sum(labels == {cat} for labels, _ in lines) == 40


def test_its_lines_say_what_their_labels_say(shipped: CompiledRules) -> None:
    """The positives are breaches the rules flag in their category, the clean lines are not
    flagged at all (clean by the rules' own judgement, so the model is not taught otherwise)."""
    lines = grammar_lines(shipped.rules.classes, 60, 200)
    wrong = []
    for labels, text in lines:
        found = {h.category for h in shipped.matcher.scan(text)}
        if (labels and not labels <= found) or (not labels and found):
            wrong.append((text, sorted(labels), sorted(found)))
    assert len(wrong) <= len(lines) // 20, wrong  # the grammar is looser than the rules


def test_a_class_the_grammar_needs_must_be_in_the_rules(shipped: CompiledRules) -> None:
    classes = dict(shipped.rules.classes)
    del classes["DEPOSIT"]
    with pytest.raises(KeyError, match="DEPOSIT"):
        grammar_lines(classes, 1, 1)
