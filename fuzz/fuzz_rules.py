"""Rules parser harness: :func:`compliance.rules.parse_rules` on raw bytes (as the watcher reads).

Contract: a :class:`RuleSet` or :class:`RulesError`; nothing else escapes. Property: every
issue names the source, and a parsed rule set answers for each of its purposes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from compliance.rules import RulesError, parse_rules

RULES = Path(__file__).resolve().parent.parent / "compliance" / "rules" / "default.yaml"


def check(data: bytes) -> None:
    try:
        rules = parse_rules(data, "fuzz.yaml")
    except RulesError as exc:
        for issue in exc.issues:
            if issue.source != "fuzz.yaml":
                raise AssertionError(f"issue without its source: {issue}") from None
        return
    _ = rules.version


def seeds() -> Iterator[bytes]:
    yield RULES.read_bytes()
