"""Flow validation: schema errors, graph errors and compliance proofs, each with file and line.

Graph: unknown targets, unknown prompts, unreachable nodes, nodes from which no hangup or
transfer can be reached (dead ends, loops without an exit). Compliance, proven over every path by
a must-dataflow from ``start``: no content before a ``disclosure`` (invariant 4), and no marketing
content unless a ``consent_gate`` granted consent on the way (invariant 5). Pure code.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import BaseModel, ValidationError

from flows.model import CONTENT_TYPES, TERMINAL_TYPES, Flow, PlayNode, Prompt, edges, prompt_refs
from ivr.errors import Param
from ivr.messages import value_error
from ivr.yaml_lines import Located, YamlSyntaxError, line_for, parse_located

# Every issue code; a client translates ``flow.<code>`` with the issue's ``params``.
ISSUE_CODES = frozenset(
    {
        "yaml",
        "schema",
        "unknown_target",
        "unknown_prompt",
        "unreachable",
        "no_exit",
        "content_before_disclosure",
        "marketing_without_consent",
    }
)


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """One problem in a flow file: ``code`` (one of ``ISSUE_CODES``) and its ``params`` for
    a translation, ``message`` in English."""

    file: str
    line: int
    code: str
    message: str
    params: Mapping[str, Param] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: [{self.code}] {self.message}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "code": self.code,
            "message": self.message,
            "params": dict(self.params),
        }


@dataclass(frozen=True, slots=True)
class FlowReport:
    """The outcome of validating one file: the flow (if it parsed) and every issue."""

    file: str
    flow: Flow | None
    issues: tuple[FlowIssue, ...]

    @property
    def ok(self) -> bool:
        return self.flow is not None and not self.issues


@dataclass(frozen=True, slots=True)
class _Facts:
    disclosed: bool
    consented: bool

    def meet(self, other: _Facts) -> _Facts:
        return _Facts(self.disclosed and other.disclosed, self.consented and other.consented)


def validate_text(text: str, file: str, shared_prompts: Mapping[str, Prompt]) -> FlowReport:
    """Validate flow YAML ``text`` (named ``file`` in messages) against the shared prompt table."""
    try:
        located = parse_located(text)
    except YamlSyntaxError as exc:
        issue = FlowIssue(file, exc.line, "yaml", str(exc), {"line": exc.line})
        return FlowReport(file, None, (issue,))
    try:
        flow = Flow.model_validate(located.data)
    except ValidationError as exc:
        schema_issues = tuple(
            FlowIssue(
                file,
                line_for(located, err["loc"]),
                "schema",
                f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}",
                {"loc": ".".join(str(p) for p in err["loc"]), **value_error(err)},
            )
            for err in exc.errors()
        )
        return FlowReport(file, None, schema_issues)
    issues = graph_issues(flow, located, file, shared_prompts)
    return FlowReport(file, flow, tuple(issues))


def graph_issues(
    flow: Flow, located: Located, file: str, shared_prompts: Mapping[str, Prompt]
) -> list[FlowIssue]:
    """Every graph and compliance issue of a schema-valid flow."""
    issues: list[FlowIssue] = []

    def at(*path: str | int) -> int:
        return line_for(located, path)

    if flow.start not in flow.nodes:
        issues.append(
            FlowIssue(
                file,
                at("start"),
                "unknown_target",
                f"start {flow.start!r}",
                {"node": "start", "edge": "", "target": flow.start},
            )
        )
        return issues
    prompts = {**shared_prompts, **flow.prompts}
    for node_id, node in flow.nodes.items():
        for label, target in edges(node):
            if target not in flow.nodes:
                line = at("nodes", node_id, *label.replace("]", "").replace("[", ".").split("."))
                issues.append(
                    FlowIssue(
                        file,
                        line,
                        "unknown_target",
                        f"{node_id}.{label} -> {target!r}",
                        {"node": node_id, "edge": label, "target": target},
                    )
                )
        for field_name, prompt_id in prompt_refs(node):
            if prompt_id not in prompts:
                issues.append(
                    FlowIssue(
                        file,
                        at("nodes", node_id, field_name),
                        "unknown_prompt",
                        f"{node_id}.{field_name}: no prompt {prompt_id!r} in the prompt table",
                        {"node": node_id, "field": field_name, "prompt": prompt_id},
                    )
                )
    if any(i.code == "unknown_target" for i in issues):
        return issues

    reachable = _reachable(flow)
    for node_id in flow.nodes:
        if node_id not in reachable:
            issues.append(
                FlowIssue(
                    file,
                    at("nodes", node_id),
                    "unreachable",
                    f"{node_id} is unreachable",
                    {"node": node_id},
                )
            )
    exits = _can_exit(flow)
    for node_id in sorted(reachable - exits, key=lambda n: at("nodes", n)):
        issues.append(
            FlowIssue(
                file,
                at("nodes", node_id),
                "no_exit",
                f"{node_id} can never reach a hangup or transfer (dead end or loop without exit)",
                {"node": node_id},
            )
        )

    facts = _must_facts(flow)
    for node_id in sorted(reachable, key=lambda n: at("nodes", n)):
        node = flow.nodes[node_id]
        fact = facts[node_id]
        if node.type in CONTENT_TYPES and not fact.disclosed:
            issues.append(
                FlowIssue(
                    file,
                    at("nodes", node_id),
                    "content_before_disclosure",
                    f"{node_id} ({node.type}) can be reached before the disclosure",
                    {"node": node_id, "type": node.type},
                )
            )
        if _is_marketing(node, prompts) and not fact.consented:
            issues.append(
                FlowIssue(
                    file,
                    at("nodes", node_id),
                    "marketing_without_consent",
                    f"{node_id} plays marketing content on a path without a granted consent_gate",
                    {"node": node_id},
                )
            )
    return issues


def _is_marketing(node: BaseModel, prompts: Mapping[str, Prompt]) -> bool:
    if isinstance(node, PlayNode):
        prompt = prompts.get(node.prompt)
        return node.marketing or (prompt is not None and prompt.marketing)
    return False


def _reachable(flow: Flow) -> set[str]:
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        for _, target in edges(flow.nodes[queue.popleft()]):
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _can_exit(flow: Flow) -> set[str]:
    """Nodes from which a terminal node (hangup, transfer) is reachable."""
    preds: dict[str, set[str]] = {n: set() for n in flow.nodes}
    for node_id, node in flow.nodes.items():
        for _, target in edges(node):
            preds[target].add(node_id)
    done = {n for n, node in flow.nodes.items() if node.type in TERMINAL_TYPES}
    queue = deque(done)
    while queue:
        for pred in preds[queue.popleft()]:
            if pred not in done:
                done.add(pred)
                queue.append(pred)
    return done


def _must_facts(flow: Flow) -> dict[str, _Facts]:
    """What holds on EVERY path into each reachable node (fixpoint from start, meet = AND)."""
    facts: dict[str, _Facts] = {flow.start: _Facts(disclosed=False, consented=False)}
    queue = deque([flow.start])
    while queue:
        node_id = queue.popleft()
        node = flow.nodes[node_id]
        for label, target in edges(node):
            out = facts[node_id]
            if node.type == "disclosure":
                out = _Facts(disclosed=True, consented=out.consented)
            elif node.type == "consent_gate" and label == "on_granted":
                out = _Facts(disclosed=out.disclosed, consented=True)
            old = facts.get(target)
            new = out if old is None else old.meet(out)
            if new != old:
                facts[target] = new
                queue.append(target)
    return facts
