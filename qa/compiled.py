"""A QA rules text made ready to use: parsed, compiled and self-checked (pure).

:func:`compile_rules` parses a rules document (:func:`qa.rules.parse_qa_rules`), compiles its
:class:`qa.matcher.Matcher` and runs every rule's own ``examples``: a ``hit`` example the rule
does not flag, or a ``clean`` example it does, rejects the file with the example's line. So a
rules change that breaks a case its author wrote down never becomes active (invariant 13).

:meth:`CompiledRules.check` (the whole check of one line: rules, then the learned stage) keeps
its last ``LINE_CACHE_MAX`` results by line and speaker (lines of at most ``LINE_CACHE_CHARS``
characters; the oldest go first): call-centre speech repeats (every bot prompt, agents' set
phrases), and the check is a pure function of the line and this rules version, so a line seen
again costs one dictionary lookup and gets the same verdict. A rules or model change is a new
:class:`CompiledRules` with an empty cache.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

from compliance.reload import VersionOfRules
from compliance.rules import RulesError, RulesIssue
from ivr.yaml_lines import Located
from qa.matcher import Matcher
from qa.model import QaModel
from qa.rules import QaRules, Speaker, parse_qa_rules
from qa.second_stage import LineCheck, SecondStage, check_line

LINE_CACHE_MAX = 16_384  # whole-check results kept per rules version
LINE_CACHE_CHARS = 256  # longer lines are checked every time (bounded memory)


@dataclass(frozen=True, slots=True)
class CompiledRules(VersionOfRules):
    """One installed rules version: the rules, their matcher, the text's digest and source,
    and the learned second stage beside them (``None``: rules only)."""

    rules: QaRules
    matcher: Matcher
    digest: str
    source: str
    stage: SecondStage | None = None
    _lines: dict[tuple[str, Speaker | None], LineCheck] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def model_version(self) -> str | None:
        return self.stage.model.version if self.stage else None

    def check(self, text: str, speaker: Speaker | None = None) -> LineCheck:
        """Rule hits of one line, then the model's hits in the categories they left out (a
        line seen before: its kept result, see the module docstring)."""
        key = (text, speaker)
        found = self._lines.get(key)
        if found is None:
            found = check_line(self.matcher, self.stage, text, speaker)
            if len(text) <= LINE_CACHE_CHARS:
                lines = self._lines
                if len(lines) >= LINE_CACHE_MAX:
                    # threads (the console's routes) may race here: losing one entry is fine
                    with contextlib.suppress(KeyError, RuntimeError, StopIteration):
                        del lines[next(iter(lines))]
                lines[key] = found
        return found


def compile_rules(
    text: str, source: str = "<qa rules>", model: QaModel | None = None
) -> CompiledRules:
    """Parse, compile and self-check one rules text (with ``model`` as its second stage);
    raises :class:`RulesError`."""
    rules, located = parse_qa_rules(text, source)
    matcher = Matcher(rules)
    issues = _example_issues(rules, matcher, located, source)
    if issues:
        raise RulesError(issues)
    stage = SecondStage.of(model, matcher) if model is not None else None
    return CompiledRules(rules, matcher, hashlib.sha256(text.encode()).hexdigest(), source, stage)


def summary(compiled: CompiledRules) -> dict[str, Any]:
    """What ``ivr qa rules`` and ``/api/v1/qa/rules`` show of a valid rules text."""
    r = compiled.rules
    return {
        "source": compiled.source,
        "version": r.version,
        "effective_from": r.effective_from.isoformat(),
        "sha256": compiled.digest,
        "rules": [
            {"id": x.id, "category": x.category.value, "severity": x.severity.value}
            for x in r.rules
        ],
        "purposes": {p: list(ids) for p, ids in r.mandatory.purposes.items()},
    }


def _example_issues(
    rules: QaRules, matcher: Matcher, located: Located, source: str
) -> list[RulesIssue]:
    issues: list[RulesIssue] = []
    for i, rule in enumerate(rules.rules):
        for which, expect in (("hit", True), ("clean", False)):
            for j, sentence in enumerate(getattr(rule.examples, which)):
                flagged = any(h.rule_id == rule.id for h in matcher.scan(sentence))
                if flagged != expect:
                    path = ("rules", i, "examples", which, j)
                    issues.append(
                        RulesIssue(
                            source,
                            located.lines.get(path),
                            f"rules.{i}.examples.{which}.{j}",
                            f"rule {rule.id!r} "
                            + ("does not flag" if expect else "flags")
                            + f" its own {which} example",
                            "qa.example_missed" if expect else "qa.example_flagged",
                            {"rule": rule.id, "example": sentence},
                        )
                    )
    return issues
