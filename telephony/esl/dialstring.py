"""Originate arguments built the way FreeSWITCH 1.10 parses them (pure, no IO).

``originate <aleg> <exten|&app(arg)> [<dialplan>] [<context>] [<cid_name>] [<cid_num>] [<timeout>]``
(mod_commands): the whole argument is split on spaces by ``switch_separate_string`` (a single
quote groups, a backslash escapes the next character), so an application whose argument has
spaces must be quoted, ``'&socket(127.0.0.1:8084 async full)'``; unquoted, the words after the
first become the dialplan and context arguments and the application runs with its first word
only. The application's name ends at the first ``(`` and its argument at the first ``)``.

Channel variables go in front of the endpoint as ``{name=value,...}``
(``switch_event_create_brackets``): the block is split on commas, each item on its first ``=``,
and every one of the three splits strips single quotes and resolves backslash escapes (``\\'``,
``\\"``, ``\\\\``, the split's own delimiter, and ``\\s`` for a space; leading and trailing spaces
are trimmed). :func:`channel_variables` escapes each value once per stage, so any text comes
out on the channel as given; ``{`` and ``}`` (the block ends at the matching brace whatever the
escapes), control characters and empty values (an item without a value is dropped) are refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from telephony.esl.errors import EslLocalError

VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLAIN_TOKEN = re.compile(r"[^\s'\"\\{}\[\]]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _escape(text: str, specials: str) -> str:
    return "".join("\\" + ch if ch in specials else ch for ch in text)


def escape_value(value: str) -> str:
    """``value`` escaped for a ``{name=value}`` item of an originate argument."""
    if not value:
        raise EslLocalError("a channel variable needs a non-empty value")
    if _CONTROL.search(value) or "{" in value or "}" in value:
        raise EslLocalError("a channel variable value may not hold braces or control characters")
    # innermost first: the '=' split, then the ',' split, then the blank split of the command
    text = _escape(value, "\\'\"").replace(" ", "\\s")
    text = _escape(text, "\\'\",")
    return _escape(text, "\\'\"")


def channel_variables(values: Mapping[str, str]) -> str:
    """``{name=value,...}`` for ``values`` (``""`` when empty); names are ``[A-Za-z_]\\w*``."""
    items = []
    for name, value in values.items():
        if not VARIABLE_NAME.fullmatch(name):
            raise EslLocalError(f"invalid channel variable name {name!r}")
        items.append(f"{name}={escape_value(value)}")
    return "{" + ",".join(items) + "}" if items else ""


def _token(value: str, what: str) -> str:
    if not _PLAIN_TOKEN.fullmatch(value):
        raise EslLocalError(f"{what} must be one word without quotes or brackets: {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Application:
    """Run one application on the answered leg: ``'&name(arg)'``."""

    name: str
    arg: str = ""

    def __post_init__(self) -> None:
        _token(self.name, "application name")
        if "(" in self.name or ")" in self.arg or _CONTROL.search(self.arg):
            raise EslLocalError("an originate application argument may not hold ')'")

    def render(self) -> str:
        inner = f"&{self.name}({self.arg})"
        return "'" + _escape(inner, "\\'") + "'"


@dataclass(frozen=True, slots=True)
class Extension:
    """Send the answered leg to a dialplan extension: ``<extension> <dialplan> <context>``."""

    extension: str
    dialplan: str = "XML"
    context: str = "default"

    def __post_init__(self) -> None:
        _token(self.extension, "extension")
        _token(self.dialplan, "dialplan")
        _token(self.context, "context")
        if self.extension.startswith("&"):
            raise EslLocalError("use Application for '&app(...)' targets")

    def render(self) -> str:
        return f"{self.extension} {self.dialplan} {self.context}"


OriginateTarget = Application | Extension
PARK = Application("park")


def originate_arg(
    endpoint: str, target: OriginateTarget, variables: Mapping[str, str] | None = None
) -> str:
    """The argument of ``originate``: ``{vars}endpoint target``."""
    _token(endpoint, "endpoint")
    return f"{channel_variables(variables or {})}{endpoint} {target.render()}"
