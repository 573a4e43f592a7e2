"""Rules as a designer document: checked by the compliance rules parser, every change needs a
second compliance officer (four eyes), and a changed text must carry a new ``version`` (the
running watchers install only a new version; invariant 13)."""

from __future__ import annotations

from typing import Any

import yaml

from compliance.rules import RulesError, parse_rules
from console.designer.service import KindRules


def rules_issues(text: str, published: str | None) -> list[dict[str, Any]]:
    """Every issue of a rules text; empty when it can be published."""
    try:
        rules = parse_rules(text, "rules.yaml")
    except RulesError as exc:
        return [
            {
                "code": "rules",
                "message": f"{i.field or '(file)'}: {i.why}",
                "line": i.line or 1,
                "params": i.message_params(),
            }
            for i in exc.issues
        ]
    if published is not None and published != text:
        try:
            before = parse_rules(published, "published")
        except RulesError:
            return []
        if before.version == rules.version:
            return [
                {
                    "code": "version",
                    "message": "a changed rules text needs a new version "
                    f"(still {rules.version!r})",
                    "line": 1,
                    "params": {"version": str(rules.version)},
                }
            ]
    return []


def rules_version(text: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    version = data.get("version") if isinstance(data, dict) else None
    return str(version) if version is not None else None


def rules_kind(published: Any) -> KindRules:
    """``published`` returns the published rules text (or None) when called."""
    return KindRules(
        check=lambda text: rules_issues(text, published()),
        touches=lambda old, new: [f"rules:{rules_version(new)}"],
        always_four_eyes=True,
    )
