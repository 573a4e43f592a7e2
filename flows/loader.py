"""Load flow YAML keeping line numbers, so every error names its file and line.

Pure: takes text, returns values. :func:`parse_located` turns YAML into plain Python data plus a
map from data path to 1-based line; :func:`line_for` finds the line of a pydantic error location.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class Located:
    """YAML data with the line of every mapping key and sequence item."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)


class YamlSyntaxError(ValueError):
    """The text is not valid YAML; ``line`` is 1-based."""

    def __init__(self, message: str, line: int) -> None:
        super().__init__(message)
        self.line = line


def parse_located(text: str) -> Located:
    """Parse YAML text into data and a path → line map (duplicate keys are errors)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(str(exc.problem or exc), (mark.line + 1) if mark else 1) from exc
    if root is None:
        return Located(data=None)
    lines: dict[Path, int] = {(): root.start_mark.line + 1}
    return Located(data=_convert(root, (), lines, yaml.SafeLoader("")), lines=lines)


def _convert(node: yaml.Node, path: Path, lines: dict[Path, int], loader: yaml.SafeLoader) -> Any:
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise YamlSyntaxError(f"duplicate key {key!r}", key_node.start_mark.line + 1)
            child = (*path, key)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _convert(value_node, child, lines, loader)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines[child] = item.start_mark.line + 1
            items.append(_convert(item, child, lines, loader))
        return items
    return loader.construct_object(node, deep=True)


def line_for(located: Located, loc: Sequence[str | int]) -> int:
    """The line of the deepest existing data path along a pydantic error ``loc``.

    Location parts that are not in the data (e.g. a union's tag) are skipped.
    """
    data: Any = located.data
    path: Path = ()
    line = located.lines.get((), 1)
    for part in loc:
        in_map = isinstance(data, dict) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data)
        if not (in_map or in_list):
            continue
        path, data = (*path, part), data[part]
        line = located.lines.get(path, line)
    return line
