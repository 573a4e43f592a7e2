"""YAML with line numbers (pure), shared by every versioned data file (rules, flows, prompts).

:func:`parse_located` turns YAML text or bytes into plain Python data (dicts, lists, scalars)
plus a map from data path to 1-based line; :func:`line_for` finds the line of a pydantic error
location in it. Anything that is not plain YAML data is a :class:`YamlSyntaxError` naming a line
and the reason, never another exception: bytes that are not UTF-8 (a GBK-encoded file), binary
content, language-specific tags (``!!python/object``), duplicate or unhashable keys, nesting
deeper than :data:`MAX_DEPTH` (a recursive alias included) and documents that expand past
:data:`MAX_NODES` nodes (an alias bomb).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str | int, ...]
MAX_DEPTH = 64
MAX_NODES = 200_000
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"


@dataclass(frozen=True, slots=True)
class Located:
    """YAML data with the line of every mapping key and sequence item (``data`` is ``None``
    for a document without content: empty, or comments only)."""

    data: Any
    lines: dict[Path, int] = field(default_factory=dict)


class YamlSyntaxError(ValueError):
    """The input is not plain YAML data; ``line`` is 1-based, ``field`` the dotted data path
    where it is known (a duplicate key), else ``""``."""

    def __init__(self, message: str, line: int, field: str = "") -> None:
        super().__init__(message)
        self.line = line
        self.field = field


def decode_yaml(data: bytes) -> str:
    """UTF-8 text of a YAML file (a BOM is allowed); raises :class:`YamlSyntaxError` for
    binary content or another encoding, with the line of the first offending byte."""
    nul = data.find(b"\x00")
    if nul >= 0:
        raise YamlSyntaxError("binary content (a NUL byte): not a text file", _line_at(data, nul))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlSyntaxError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8",
            _line_at(data, exc.start),
        ) from None


def _line_at(data: bytes | str, offset: int) -> int:
    newline: Any = b"\n" if isinstance(data, bytes) else "\n"
    return data.count(newline, 0, offset) + 1


def parse_located(source: str | bytes) -> Located:
    """Parse YAML into data and a path → line map; raises :class:`YamlSyntaxError` only."""
    text = decode_yaml(source) if isinstance(source, bytes) else source
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise YamlSyntaxError(str(exc.problem or exc), (mark.line + 1) if mark else 1) from None
    except yaml.reader.ReaderError as exc:  # a control character the YAML reader refuses
        raise YamlSyntaxError(
            f"character 0x{exc.character:x} is not allowed in YAML", _line_at(text, exc.position)
        ) from None
    except yaml.YAMLError as exc:
        raise YamlSyntaxError(f"not valid YAML: {exc}", 1) from None
    except RecursionError:
        raise YamlSyntaxError(f"nested deeper than {MAX_DEPTH} levels", 1) from None
    if root is None:
        return Located(data=None)
    lines: dict[Path, int] = {(): root.start_mark.line + 1}
    builder = _Builder(lines)
    return Located(data=builder.convert(root, (), 0), lines=lines)


class _Builder:
    """Plain data from composed nodes, recording lines; bounded in depth and size."""

    def __init__(self, lines: dict[Path, int]) -> None:
        self.lines = lines
        self.nodes = 0
        self.loader = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, path: Path, depth: int) -> Any:
        line = node.start_mark.line + 1
        self.nodes += 1
        if depth > MAX_DEPTH:
            raise YamlSyntaxError(f"nested deeper than {MAX_DEPTH} levels (recursive alias?)", line)
        if self.nodes > MAX_NODES:
            raise YamlSyntaxError(f"more than {MAX_NODES} values (alias expansion?)", line)
        if isinstance(node, yaml.MappingNode):
            self._plain(node, _MAP_TAG)
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = self.scalar(key_node)
                child = (*path, key)
                if key in out:
                    dotted = ".".join(str(p) for p in child)
                    raise YamlSyntaxError(
                        f"duplicate key {key!r}", key_node.start_mark.line + 1, dotted
                    )
                self.lines[child] = key_node.start_mark.line + 1
                out[key] = self.convert(value_node, child, depth + 1)
            return out
        if isinstance(node, yaml.SequenceNode):
            self._plain(node, _SEQ_TAG)
            items = []
            for index, item in enumerate(node.value):
                child = (*path, index)
                self.lines[child] = item.start_mark.line + 1
                items.append(self.convert(item, child, depth + 1))
            return items
        return self.scalar(node)

    @staticmethod
    def _plain(node: yaml.Node, tag: str) -> None:
        if node.tag != tag:
            raise YamlSyntaxError(
                f"unsupported tag {node.tag!r}: only plain YAML data", node.start_mark.line + 1
            )

    def scalar(self, node: yaml.Node) -> Any:
        line = node.start_mark.line + 1
        if not isinstance(node, yaml.ScalarNode):
            raise YamlSyntaxError("a key must be a plain value, not a mapping or a list", line)
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:  # e.g. !!python/object: no safe constructor
            raise YamlSyntaxError(str(exc.problem or exc), line) from None
        except (ValueError, TypeError, OverflowError) as exc:  # e.g. an impossible timestamp
            raise YamlSyntaxError(f"bad value: {exc}", line) from None
        return value


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
