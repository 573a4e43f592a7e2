"""Flow documents for the designer (pure): JSON from the browser ↔ the YAML the registry reads,
checked by the product's own validator (``flows.validate.validate_text``), each issue tied to
its node and, for the compliance proofs, to the path that breaks them (``witness``)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from console.designer.witness import WITNESSES
from flows.model import Flow, Prompt
from flows.validate import validate_text
from ivr.errors import Param

STRUCTURAL = frozenset({"yaml", "schema", "unknown_target", "unknown_prompt"})


@dataclass(frozen=True, slots=True)
class Issue:
    code: str
    message: str
    line: int
    node: str | None
    path: tuple[tuple[str, str | None], ...]  # (node, edge label) from start, for compliance
    params: Mapping[str, Param] = field(default_factory=dict)  # translated as flow.<code>

    def as_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "message": self.message,
            "params": dict(self.params),
            "line": self.line,
            "node": self.node,
            "path": [{"node": n, "edge": e} for n, e in self.path],
        }


@dataclass(frozen=True, slots=True)
class FlowCheck:
    flow: Flow | None
    issues: tuple[Issue, ...]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.issues

    @property
    def structural(self) -> tuple[Issue, ...]:
        """Issues that make the document unusable as a draft (schema, dangling edges...)."""
        return tuple(i for i in self.issues if i.code in STRUCTURAL)


def to_yaml(flow_json: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(flow_json), allow_unicode=True, sort_keys=False, width=100)


def from_yaml(text: str) -> Any:
    return yaml.safe_load(text)


def node_lines(text: str) -> dict[int, str]:
    """First line (1-based) of every node under ``nodes:`` → node id."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return {}
    found: dict[int, str] = {}
    if isinstance(root, yaml.MappingNode):
        for key, value in root.value:
            if key.value == "nodes" and isinstance(value, yaml.MappingNode):
                for node_key, _ in value.value:
                    found[node_key.start_mark.line + 1] = str(node_key.value)
    return found


def _node_at(line: int, starts: dict[int, str]) -> str | None:
    before = [n for n in starts if n <= line]
    return starts[max(before)] if before else None


def check_text(text: str, name: str, prompts: Mapping[str, Prompt]) -> FlowCheck:
    report = validate_text(text, name, prompts)
    starts = node_lines(text)
    issues = []
    for issue in report.issues:
        node = _node_at(issue.line, starts)
        path: tuple[tuple[str, str | None], ...] = ()
        witness = WITNESSES.get(issue.code)
        if witness is not None and report.flow is not None and node is not None:
            path = tuple((s.node, s.edge) for s in witness(report.flow, node))
        issues.append(Issue(issue.code, issue.message, issue.line, node, path, issue.params))
    return FlowCheck(report.flow, tuple(issues))


def check_json(
    flow_json: Mapping[str, Any], prompts: Mapping[str, Prompt]
) -> tuple[str, FlowCheck]:
    text = to_yaml(flow_json)
    return text, check_text(text, f"{flow_json.get('flow', 'flow')}.yaml", prompts)
