"""``originate``'s argument parsed the way mod_commands 1.10 parses it (pure).

``originate <aleg> <exten|&app(arg)> [<dialplan>] [<context>] [<cid_name>] [<cid_num>]
[<timeout>]``: split on spaces by ``switch_separate_string`` (quotes group; ``undef`` is an empty
argument), 2 to 7 arguments, else ``-USAGE``. The a-leg starts with ``<...>``/``{...}`` blocks of
channel variables (and ``[...]`` per leg); ``&app(arg)`` takes the name up to the first ``(``
and the argument up to the first ``)``, so ``&transfer(ivr_outbound XML ivr)`` unquoted becomes
``transfer`` with ``ivr_outbound`` (into the ``default`` context) and ``&socket(127.0.0.1:8084
async full)`` becomes ``socket 127.0.0.1:8084``: static mode, single-channel control.
"""

from __future__ import annotations

from dataclasses import dataclass

from telephony.simulator.fsstrings import parse_brackets, separate_string

SYNTAX = (
    "<call url> <exten>|&<application_name>(<app_args>) [<dialplan>] [<context>] "
    "[<cid_name>] [<cid_num>] [<timeout_sec>]"
)


@dataclass(frozen=True, slots=True)
class OriginateRequest:
    """What FreeSWITCH makes of one ``originate`` argument."""

    variables: dict[str, str]
    endpoint: str
    application: tuple[str, str] | None
    extension: tuple[str, str, str] | None
    caller_id_name: str | None
    caller_id_number: str | None
    timeout_s: int


def parse_originate(arg: str) -> OriginateRequest:
    """Raises :class:`ValueError` where FreeSWITCH answers ``-USAGE`` or a parse error."""
    argv: list[str | None] = list(separate_string(arg, " ", 10))
    if not 2 <= len(argv) <= 7:
        raise ValueError(f"-USAGE: {SYNTAX}")
    argv = [None if a is not None and a.lower() == "undef" else a for a in argv]
    argv += [None] * (7 - len(argv))
    aleg, exten = argv[0] or "", argv[1] or ""
    variables: dict[str, str] = {}
    rest = aleg
    for open_, close in (("<", ">"), ("{", "}")):
        found, rest = parse_brackets(rest, open_, close)
        variables.update(found)
    leg, rest = parse_brackets(rest.lstrip(), "[", "]")
    variables.update(leg)
    application: tuple[str, str] | None = None
    extension: tuple[str, str, str] | None = None
    if exten.startswith("&") and len(exten) > 1:
        name = exten[1:].split(")", 1)[0]
        app, _, app_arg = name.partition("(")
        application = (app, app_arg)
    else:
        extension = (exten, argv[2] or "XML", argv[3] or "default")
    timeout = argv[6]
    return OriginateRequest(
        variables,
        rest.strip(),
        application,
        extension,
        argv[4],
        argv[5],
        int(timeout) if timeout and timeout.isdigit() else 60,
    )
