"""A QA rules text made ready to use: parsed, compiled and self-checked (pure).

:func:`compile_rules` parses a rules document (:func:`qa.rules.parse_qa_rules`), compiles its
:class:`qa.matcher.Matcher` and runs every rule's own ``examples``: a ``hit`` example the rule
does not flag, or a ``clean`` example it does, rejects the file with the example's line. So a
rules change that breaks a case its author wrote down never becomes active (invariant 13).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from compliance.reload import VersionOfRules
from compliance.rules import RulesError, RulesIssue
from ivr.yaml_lines import Located
from qa.matcher import Matcher
from qa.model import QaModel
from qa.rules import QaRules, Speaker, parse_qa_rules
from qa.second_stage import LineCheck, SecondStage, check_line


@dataclass(frozen=True, slots=True)
class CompiledRules(VersionOfRules):
    """One installed rules version: the rules, their matcher, the text's digest and source,
    and the learned second stage beside them (``None``: rules only)."""

    rules: QaRules
    matcher: Matcher
    digest: str
    source: str
    stage: SecondStage | None = None

    @property
    def model_version(self) -> str | None:
        return self.stage.model.version if self.stage else None

    def check(self, text: str, speaker: Speaker | None = None) -> LineCheck:
        """Rule hits of one line, then the model's hits in the categories they left out."""
        return check_line(self.matcher, self.stage, text, speaker)


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
                        )
                    )
    return issues
