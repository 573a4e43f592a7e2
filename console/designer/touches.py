"""What makes a change need a second person's approval (pure).

A flow change that adds, removes or edits a disclosure, consent or marketing node (or the
wording such a node speaks), or moves ``start`` or the flow's ``purpose``; a prompt-table change
to regulated wording (disclosure, risk warning) or to marketing content; every rules change.
"""

from __future__ import annotations

from collections.abc import Mapping

from flows.model import Flow, PlayNode, Prompt, prompt_refs

REGULATED_PROMPTS = frozenset({"disclosure", "risk_warning"})


def _category(node_id: str, flow: Flow, prompts: Mapping[str, Prompt]) -> str | None:
    node = flow.nodes[node_id]
    if node.type == "disclosure":
        return "disclosure"
    if node.type == "consent_gate":
        return "consent"
    if isinstance(node, PlayNode):
        prompt = {**prompts, **flow.prompts}.get(node.prompt)
        if node.marketing or (prompt is not None and prompt.marketing):
            return "marketing"
        if node.prompt in REGULATED_PROMPTS:
            return "risk_warning"
    return None


def _spoken(node_id: str, flow: Flow, prompts: Mapping[str, Prompt]) -> list[Prompt | None]:
    table = {**prompts, **flow.prompts}
    return [table.get(pid) for _, pid in prompt_refs(flow.nodes[node_id])]


def flow_touches(old: Flow | None, new: Flow, prompts: Mapping[str, Prompt]) -> list[str]:
    """Sorted ``category:node`` items (and ``flow:start`` / ``flow:purpose``) the change touches."""
    found: set[str] = set()
    before = old.nodes if old is not None else {}
    for node_id in set(before) | set(new.nodes):
        cats = set()
        if node_id in new.nodes:
            cats.add(_category(node_id, new, prompts))
        if old is not None and node_id in old.nodes:
            cats.add(_category(node_id, old, prompts))
        cats.discard(None)
        if not cats:
            continue
        same = (
            old is not None
            and node_id in old.nodes
            and node_id in new.nodes
            and old.nodes[node_id] == new.nodes[node_id]
            and _spoken(node_id, old, prompts) == _spoken(node_id, new, prompts)
        )
        if not same:
            found.update(f"{cat}:{node_id}" for cat in cats if cat)
    if old is None or old.start != new.start:
        found.add("flow:start")
    if old is None or old.purpose != new.purpose:
        found.add("flow:purpose")
    return sorted(found)


def prompt_touches(old: Mapping[str, Prompt], new: Mapping[str, Prompt]) -> list[str]:
    """``regulated:<id>`` and ``marketing:<id>`` for prompts whose entry changed."""
    found = set()
    for pid in set(old) | set(new):
        if old.get(pid) == new.get(pid):
            continue
        if pid in REGULATED_PROMPTS:
            found.add(f"regulated:{pid}")
        if any(p is not None and p.marketing for p in (old.get(pid), new.get(pid))):
            found.add(f"marketing:{pid}")
    return sorted(found)


def regulated_prompt_edits(old: Mapping[str, Prompt], new: Mapping[str, Prompt]) -> list[str]:
    """Regulated prompt ids whose wording differs (only compliance officers may edit them)."""
    return sorted(pid for pid in REGULATED_PROMPTS if old.get(pid) != new.get(pid))
