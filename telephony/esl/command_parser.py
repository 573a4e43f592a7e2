"""The server side of the codec: parse the commands an ESL client sends (used by the simulator).

``CommandParser().feed(bytes) -> list[Command]``: a command is a block of lines ending in a blank
line; ``sendmsg`` and ``bgapi`` carry header lines after the first. Unknown verbs become
:class:`UnknownCommand` (FreeSWITCH answers them ``-ERR command not found``); a block that is
not valid text, or larger than the limit, raises :class:`EslRemoteError`.
"""

from __future__ import annotations

from collections.abc import Mapping

from telephony.esl.commands import (
    Api,
    Auth,
    BgApi,
    Command,
    Connect,
    Execute,
    Exit,
    Filter,
    FilterDelete,
    GetVar,
    Hangup,
    Linger,
    MyEvents,
    NixEvent,
    NoEvents,
    NoLinger,
    Resume,
    Subscribe,
    UnknownCommand,
)
from telephony.esl.errors import EslLocalError, EslRemoteError
from telephony.esl.message import parse_header_block

MAX_COMMAND_BYTES = 64 * 1024


class CommandParser:
    """Incremental parser of client commands (what FreeSWITCH's event socket reads)."""

    __slots__ = ("_buf",)

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Command]:
        """Add received bytes; return every command they complete."""
        buf = self._buf
        buf += data
        out: list[Command] = []
        while True:
            while buf[:1] == b"\n" or buf[:1] == b"\r":
                del buf[:1]
            idx = buf.find(b"\n\n")
            if idx < 0:
                if len(buf) > MAX_COMMAND_BYTES:
                    raise EslRemoteError("command exceeds the limit")
                return out
            block = bytes(buf[:idx])
            del buf[: idx + 2]
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                raise EslRemoteError("command is not UTF-8") from None
            out.append(parse_command(text))


def parse_command(text: str) -> Command:
    """One command block (without its blank line) to a typed command."""
    first, _, rest = text.partition("\n")
    verb, _, arg = first.strip().partition(" ")
    headers = parse_header_block(rest, decode=False) if rest else {}
    try:
        return _build(verb, arg, headers)
    except EslLocalError as exc:
        raise EslRemoteError(f"invalid {verb!r} command: {exc}") from None


def _build(verb: str, arg: str, headers: Mapping[str, str]) -> Command:
    words = arg.split()
    if verb == "auth":
        return Auth(arg)
    if verb == "connect":
        return Connect()
    if verb == "myevents":
        fmt = words[0] if words and words[0] in ("plain", "json", "xml") else "plain"
        uuid = words[-1] if words and words[-1] not in ("plain", "json", "xml") else None
        return MyEvents(fmt, uuid)
    if verb == "linger":
        return Linger(int(words[0]) if words and words[0].isdigit() else None)
    if verb == "nolinger":
        return NoLinger()
    if verb == "event":
        if words and words[0] in ("plain", "json", "xml"):
            return Subscribe(words[0], tuple(words[1:]) or ("ALL",))
        return Subscribe("plain", tuple(words) or ("ALL",))
    if verb == "nixevent":
        return NixEvent(tuple(words))
    if verb == "noevents":
        return NoEvents()
    if verb == "filter":
        if words[:1] == ["delete"]:
            header, _, value = arg[len("delete ") :].partition(" ")
            return FilterDelete(header, value or None)
        header, _, value = arg.partition(" ")
        return Filter(header, value)
    if verb == "sendmsg":
        return _sendmsg(arg.strip() or None, headers)
    if verb == "api":
        command, _, api_arg = arg.partition(" ")
        return Api(command, api_arg)
    if verb == "bgapi":
        command, _, api_arg = arg.partition(" ")
        return BgApi(command, api_arg, headers.get("Job-UUID"))
    if verb == "getvar":
        return GetVar(arg.strip())
    if verb == "resume":
        return Resume()
    if verb == "exit":
        return Exit()
    return UnknownCommand((verb + " " + arg).strip())


def _sendmsg(uuid: str | None, headers: Mapping[str, str]) -> Command:
    command = headers.get("call-command", "")
    if command == "execute":
        loops = headers.get("loops")
        return Execute(
            headers.get("execute-app-name", ""),
            headers.get("execute-app-arg"),
            headers.get("Event-UUID"),
            uuid,
            int(loops) if loops and loops.isdigit() else None,
            headers.get("event-lock") == "true",
        )
    if command == "hangup":
        return Hangup(headers.get("hangup-cause", "NORMAL_CLEARING"), uuid)
    raise EslRemoteError("unsupported sendmsg call-command")
