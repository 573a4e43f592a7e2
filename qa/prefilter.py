"""What any match of a regex must contain (pure): the matcher's cheap test before a pattern runs.

:func:`needed_chars` reads a compiled pattern's syntax tree (the standard library's own
parser) and returns sets of characters such that every match of the pattern contains at least
one character of each set: a literal needs itself, a class its members, an alternation the
union of what each branch needs, a group or a repeat of at least one what its body needs;
anything else (wildcards, negated classes, optional parts, look-arounds, anchors) needs nothing.
A line whose characters miss one of the sets cannot match, so the pattern is not run on it:
a filter that loses no match.
"""

from __future__ import annotations

import importlib
from typing import Any

_parser: Any = importlib.import_module("re._parser")
_c: Any = importlib.import_module("re._constants")
MAX_CLASS = 64  # a class or range larger than this needs nothing (not worth a set)


def needed_chars(pattern: str, *, ignore_case: bool = False) -> tuple[frozenset[str], ...]:
    """Sets of characters a match of ``pattern`` needs one of each (see the module docstring)."""
    needs = _sequence(_parser.parse(pattern), ignore_case)
    return tuple(sorted(set(needs), key=len))


def _variants(ch: str, ignore_case: bool) -> set[str]:
    return {ch, ch.lower(), ch.upper()} if ignore_case else {ch}


def _sequence(items: Any, ignore_case: bool) -> list[frozenset[str]]:
    out: list[frozenset[str]] = []
    for op, av in items:
        out.extend(_item(op, av, ignore_case))
    return out


def _item(op: Any, av: Any, ignore_case: bool) -> list[frozenset[str]]:
    if op is _c.LITERAL:
        return [frozenset(_variants(chr(av), ignore_case))]
    if op is _c.IN:
        members = _class(av, ignore_case)
        return [members] if members else []
    if op is _c.SUBPATTERN:
        return _sequence(av[3], ignore_case)
    if op is _c.ATOMIC_GROUP:
        return _sequence(av, ignore_case)
    if op in (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT):
        low, _high, body = av
        return _sequence(body, ignore_case) if low >= 1 else []
    if op is _c.BRANCH:
        union: set[str] = set()
        for branch in av[1]:
            needs = _sequence(branch, ignore_case)
            if not needs:
                return []  # one branch needs nothing: the alternation needs nothing
            union |= min(needs, key=len)
        return [frozenset(union)]
    return []  # ANY, NOT_LITERAL, CATEGORY, AT, ASSERT, ASSERT_NOT, GROUPREF, ...


def _class(av: Any, ignore_case: bool) -> frozenset[str] | None:
    members: set[str] = set()
    for op, value in av:
        if op is _c.LITERAL:
            members |= _variants(chr(value), ignore_case)
        elif op is _c.RANGE and value[1] - value[0] < MAX_CLASS:
            for code in range(value[0], value[1] + 1):
                members |= _variants(chr(code), ignore_case)
        else:
            return None  # NEGATE, CATEGORY, a large range: could be anything
    return frozenset(members) or None
