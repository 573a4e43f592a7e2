"""FreeSWITCH's string handling, ported from ``switch_utils.c``/``switch_event.c`` (pure).

:func:`separate_string` is ``switch_separate_string``: a space delimiter splits on runs of blanks
and any single quote toggles grouping; another delimiter groups only between a quote and a
later quote; a backslash keeps the next character from splitting; each piece is then cleaned
(leading/trailing blanks trimmed, quotes removed, ``\\'`` ``\\"`` ``\\\\`` ``\\n`` ``\\r`` ``\\t``
``\\s`` and the escaped delimiter resolved). A leading ``^^X`` makes ``X`` the delimiter.
:func:`parse_brackets` is ``switch_event_create_brackets`` for ``{a=b,c=d}`` / ``[a=b]`` blocks,
:func:`expand_variables` is ``switch_channel_expand_variables`` for ``${var}`` and the
``${api(arg)}`` functions the shipped dialplan uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

_ESC = "\\"
_UNESCAPE = {"n": "\n", "r": "\r", "t": "\t", "s": " "}


def _cleanup(text: str, delim: str) -> str:
    """``cleanup_separated_string``: trim, drop quotes, resolve escapes."""
    i, n = 0, len(text)
    while i < n and text[i] == " ":
        i += 1
    out: list[str] = []
    end: int | None = None
    inside = False
    while i < n:
        ch = text[i]
        if ch == _ESC and i + 1 < n:
            nxt = text[i + 1]
            plain = _UNESCAPE.get(nxt, nxt)
            if nxt in "'\"" or (delim and nxt == delim) or nxt == _ESC or plain != nxt:
                out.append(plain)
                end = len(out)
                i += 2
                continue
        if ch == "'" and (inside or "'" in text[i + 1 :]):
            inside = not inside
            if inside:
                end = len(out)
        else:
            out.append(ch)
            if ch != " " or inside:
                end = len(out)
        i += 1
    return "".join(out[:end]) if end is not None else ""


def separate_string(text: str, delim: str = " ", limit: int = 1024) -> list[str]:
    """``switch_separate_string(text, delim, argv, limit)``: the cleaned pieces."""
    if text.startswith("^^") and len(text) > 3:
        delim, text = text[2], text[3:]
    starts: list[int] = []
    cuts: list[int] = []
    i, n = 0, len(text)
    inside = False
    state = "start"
    while i < n and len(starts) < limit:
        ch = text[i]
        if state == "start":
            starts.append(i)
            state = "skip" if delim == " " else "find"
            continue
        if state == "skip":
            if ch == " ":
                i += 1
            else:
                state = "find"
            continue
        if state == "find":
            if ch == _ESC:
                i += 1
            elif ch == "'" and (delim == " " or inside or "'" in text[i + 1 :]):
                inside = not inside
            elif ch == delim and not inside:
                cuts.append(i)
                state = "after" if delim == " " else "start"
            i += 1
            continue
        # after a blank delimiter: skip the rest of the run of blanks
        if ch == " ":
            i += 1
        else:
            state = "start"
    pieces = []
    for k, start in enumerate(starts):
        stop = cuts[k] if k < len(cuts) else n
        pieces.append(_cleanup(text[start:stop], "" if delim == " " else delim))
    return pieces


def find_end_paren(text: str, open_: str, close: str) -> int | None:
    """``switch_find_end_paren``: index of the brace closing the one at ``text``'s start."""
    i = 0
    while i < len(text) and text[i] == " ":
        i += 1
    if i >= len(text) or text[i] != open_:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == open_ and (j == i or open_ != close):
            depth += 1
        elif text[j] == close:
            depth -= 1
            if depth == 0:
                return j
    return None


def parse_brackets(text: str, open_: str = "{", close: str = "}") -> tuple[dict[str, str], str]:
    """Every leading ``{...}`` block of ``text``: (its variables, the rest of ``text``).

    Raises :class:`ValueError` on an unterminated block (FreeSWITCH: "Parse Error!").
    """
    variables: dict[str, str] = {}
    rest = text
    while rest.startswith(open_):
        end = find_end_paren(rest, open_, close)
        if end is None:
            raise ValueError("unterminated variable block")
        block, rest = rest[1:end], rest[end + 1 :]
        for item in separate_string(block, ","):
            pair = separate_string(item, "=", 2)
            if len(pair) == 2:
                variables[pair[0]] = pair[1]
    return variables, rest


def _strftime(arg: str) -> str:
    return time.strftime(arg or "%Y-%m-%d %H:%M:%S")


API_FUNCTIONS: dict[str, Callable[[str], str]] = {"strftime": _strftime}


def expand_variables(
    text: str,
    variables: Mapping[str, str],
    functions: Mapping[str, Callable[[str], str]] = API_FUNCTIONS,
) -> str:
    """``${name}`` → the variable (``""`` if unset); ``${api(arg)}`` / ``${api arg}`` → the
    function's result. Nested ``${}`` inside a reference are expanded first."""
    out: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("${", i):
            depth, j = 1, i + 2
            while j < len(text) and depth:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                    continue
                if text[j] == "}":
                    depth -= 1
                j += 1
            if depth:
                out.append(text[i:])
                break
            inner = expand_variables(text[i + 2 : j - 1], variables, functions)
            out.append(_reference(inner, variables, functions))
            i = j
            continue
        out.append(text[i])
        i += 1
    return "".join(out)


def _reference(
    inner: str, variables: Mapping[str, str], functions: Mapping[str, Callable[[str], str]]
) -> str:
    if "(" in inner and inner.endswith(")"):
        name, _, arg = inner[:-1].partition("(")
        function = functions.get(name)
        return function(arg) if function is not None else ""
    if " " in inner:
        name, _, arg = inner.partition(" ")
        function = functions.get(name)
        return function(arg) if function is not None else ""
    return variables.get(inner, "")
