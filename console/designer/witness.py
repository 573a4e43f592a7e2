"""Offending paths for the designer to draw (pure): for a node the validator says can be
reached before the disclosure, or plays marketing without consent, one shortest path from
``start`` that proves it. The validator (``flows.validate``) decides; this only shows why."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from flows.model import Flow, edges


@dataclass(frozen=True, slots=True)
class Step:
    node: str
    edge: str | None  # the label of the edge taken out of ``node`` (None at the end)


def _shortest(
    flow: Flow, goal: str, blocked: set[tuple[str, str]], stop_at: set[str]
) -> list[Step]:
    """Shortest path start → goal not using ``blocked`` edges nor passing through ``stop_at``."""
    if flow.start == goal:
        return [Step(goal, None)]
    if flow.start in stop_at:
        return []
    parent: dict[str, tuple[str, str]] = {}
    seen = {flow.start}
    queue = deque([flow.start])
    while queue:
        node_id = queue.popleft()
        for label, target in edges(flow.nodes[node_id]):
            if (node_id, label) in blocked or target in seen or target not in flow.nodes:
                continue
            parent[target] = (node_id, label)
            if target == goal:
                path = [Step(goal, None)]
                while path[0].node != flow.start:
                    prev, edge = parent[path[0].node]
                    path.insert(0, Step(prev, edge))
                return path
            seen.add(target)
            if target not in stop_at:
                queue.append(target)
    return []


def path_before_disclosure(flow: Flow, node_id: str) -> list[Step]:
    """A path from start to ``node_id`` that passes no disclosure node."""
    disclosures = {n for n, node in flow.nodes.items() if node.type == "disclosure"}
    return _shortest(flow, node_id, set(), disclosures - {node_id})


def path_without_consent(flow: Flow, node_id: str) -> list[Step]:
    """A path from start to ``node_id`` on which no consent_gate granted consent."""
    granted = {(n, "on_granted") for n, node in flow.nodes.items() if node.type == "consent_gate"}
    return _shortest(flow, node_id, granted, set())


WITNESSES = {
    "content_before_disclosure": path_before_disclosure,
    "marketing_without_consent": path_without_consent,
}
