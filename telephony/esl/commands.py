"""Builders for every command an ESL client sends, as frozen dataclasses with ``encode()``.

``encode()`` returns the exact bytes FreeSWITCH expects (the captures' client chunks are
reproduced byte for byte). Values are checked when the command is built: a newline inside a
value, an empty name or a space inside a token is our misuse and raises :class:`EslLocalError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from telephony.esl.errors import EslLocalError

EVENT_FORMATS = ("plain", "json", "xml")


def _line(value: str, what: str) -> str:
    if "\n" in value or "\r" in value:
        raise EslLocalError(f"{what} must not contain a line break")
    return value


def _token(value: str, what: str) -> str:
    if not value or any(c in value for c in " \t\r\n"):
        raise EslLocalError(f"{what} must be a non-empty token without spaces")
    return value


def _format(value: str) -> str:
    if value not in EVENT_FORMATS:
        raise EslLocalError(f"event format must be one of {EVENT_FORMATS}")
    return value


class Command:
    """Base of every command: ``encode()`` gives the bytes to send."""

    __slots__ = ()

    def encode(self) -> bytes:
        """The wire form, ending in a blank line."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class Auth(Command):
    """``auth <password>``: the first command of an inbound connection."""

    password: str

    def __post_init__(self) -> None:
        if not _line(self.password, "password"):
            raise EslLocalError("password must not be empty")

    def encode(self) -> bytes:
        return f"auth {self.password}\n\n".encode()

    def __repr__(self) -> str:
        return "Auth(password='***')"


@dataclass(frozen=True, slots=True)
class Connect(Command):
    """``connect``: the first command of an outbound session; answered with CHANNEL_DATA."""

    def encode(self) -> bytes:
        return b"connect\n\n"


@dataclass(frozen=True, slots=True)
class MyEvents(Command):
    """``myevents [format] [uuid]``: subscribe to every event of one channel."""

    format: str = "plain"
    uuid: str | None = None

    def __post_init__(self) -> None:
        _format(self.format)
        if self.uuid is not None:
            _token(self.uuid, "uuid")

    def encode(self) -> bytes:
        parts = ["myevents"]
        if self.format != "plain" or self.uuid:
            parts.append(self.format)
        if self.uuid:
            parts.append(self.uuid)
        return (" ".join(parts) + "\n\n").encode()


@dataclass(frozen=True, slots=True)
class Linger(Command):
    """``linger [seconds]``: keep the socket after hangup to receive the last events."""

    seconds: int | None = None

    def __post_init__(self) -> None:
        if self.seconds is not None and self.seconds < 0:
            raise EslLocalError("linger seconds must be >= 0")

    def encode(self) -> bytes:
        if self.seconds is None:
            return b"linger\n\n"
        return f"linger {self.seconds}\n\n".encode()


@dataclass(frozen=True, slots=True)
class NoLinger(Command):
    """``nolinger``."""

    def encode(self) -> bytes:
        return b"nolinger\n\n"


@dataclass(frozen=True, slots=True)
class Subscribe(Command):
    """``event <format> <names...>`` (``CUSTOM`` followed by its subclasses)."""

    format: str = "plain"
    names: tuple[str, ...] = ("ALL",)

    def __post_init__(self) -> None:
        _format(self.format)
        if not self.names:
            raise EslLocalError("event needs at least one event name")
        for name in self.names:
            _token(name, "event name")

    def encode(self) -> bytes:
        return f"event {self.format} {' '.join(self.names)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class NixEvent(Command):
    """``nixevent <names...>``: unsubscribe some events."""

    names: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.names:
            raise EslLocalError("nixevent needs at least one event name")
        for name in self.names:
            _token(name, "event name")

    def encode(self) -> bytes:
        return f"nixevent {' '.join(self.names)}\n\n".encode()


@dataclass(frozen=True, slots=True)
class NoEvents(Command):
    """``noevents``: drop every subscription."""

    def encode(self) -> bytes:
        return b"noevents\n\n"


@dataclass(frozen=True, slots=True)
class Filter(Command):
    """``filter <header> <value>``: only deliver events whose header has that value."""

    header: str
    value: str

    def __post_init__(self) -> None:
        _token(self.header, "filter header")
        if self.header == "delete":
            raise EslLocalError("use FilterDelete to delete a filter")
        _line(self.value, "filter value")

    def encode(self) -> bytes:
        return f"filter {self.header} {self.value}\n\n".encode()


@dataclass(frozen=True, slots=True)
class FilterDelete(Command):
    """``filter delete <header> [value]`` (``FilterDelete("all")`` deletes every filter)."""

    header: str
    value: str | None = None

    def __post_init__(self) -> None:
        _token(self.header, "filter header")
        if self.value is not None:
            _line(self.value, "filter value")

    def encode(self) -> bytes:
        if self.value is None:
            return f"filter delete {self.header}\n\n".encode()
        return f"filter delete {self.header} {self.value}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Execute(Command):
    """``sendmsg [uuid]`` with ``call-command: execute``: run a dialplan application.

    ``event_uuid`` comes back as ``Application-UUID`` in CHANNEL_EXECUTE(_COMPLETE); ``uuid`` is
    only for inbound connections (outbound sessions address their own channel).
    """

    app: str
    arg: str | None = None
    event_uuid: str | None = None
    uuid: str | None = None
    loops: int | None = None
    event_lock: bool = False

    def __post_init__(self) -> None:
        _token(self.app, "application name")
        if self.arg is not None:
            _line(self.arg, "application argument")
        if self.event_uuid is not None:
            _token(self.event_uuid, "Event-UUID")
        if self.uuid is not None:
            _token(self.uuid, "uuid")
        if self.loops is not None and self.loops < 1:
            raise EslLocalError("loops must be >= 1")

    def encode(self) -> bytes:
        lines = [f"sendmsg {self.uuid}" if self.uuid else "sendmsg", "call-command: execute"]
        lines.append(f"execute-app-name: {self.app}")
        if self.arg is not None:
            lines.append(f"execute-app-arg: {self.arg}")
        if self.loops is not None:
            lines.append(f"loops: {self.loops}")
        if self.event_lock:
            lines.append("event-lock: true")
        if self.event_uuid is not None:
            lines.append(f"Event-UUID: {self.event_uuid}")
        return ("\n".join(lines) + "\n\n").encode()


@dataclass(frozen=True, slots=True)
class Hangup(Command):
    """``sendmsg [uuid]`` with ``call-command: hangup`` and a hangup cause."""

    cause: str = "NORMAL_CLEARING"
    uuid: str | None = None

    def __post_init__(self) -> None:
        _token(self.cause, "hangup cause")
        if self.uuid is not None:
            _token(self.uuid, "uuid")

    def encode(self) -> bytes:
        head = f"sendmsg {self.uuid}" if self.uuid else "sendmsg"
        return f"{head}\ncall-command: hangup\nhangup-cause: {self.cause}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Api(Command):
    """``api <command> [arg]``: run an API command; answered by an ``api/response``."""

    command: str
    arg: str = ""

    def __post_init__(self) -> None:
        _token(self.command, "api command")
        _line(self.arg, "api argument")

    def encode(self) -> bytes:
        if self.arg:
            return f"api {self.command} {self.arg}\n\n".encode()
        return f"api {self.command}\n\n".encode()


@dataclass(frozen=True, slots=True)
class BgApi(Command):
    """``bgapi <command> [arg]``; the result comes later in a BACKGROUND_JOB event."""

    command: str
    arg: str = ""
    job_uuid: str | None = field(default=None)

    def __post_init__(self) -> None:
        _token(self.command, "bgapi command")
        _line(self.arg, "bgapi argument")
        if self.job_uuid is not None:
            _token(self.job_uuid, "Job-UUID")

    def encode(self) -> bytes:
        head = f"bgapi {self.command} {self.arg}" if self.arg else f"bgapi {self.command}"
        if self.job_uuid is not None:
            return f"{head}\nJob-UUID: {self.job_uuid}\n\n".encode()
        return f"{head}\n\n".encode()


@dataclass(frozen=True, slots=True)
class GetVar(Command):
    """``getvar <name>`` (outbound): the value comes back raw in ``Reply-Text``."""

    name: str

    def __post_init__(self) -> None:
        _token(self.name, "variable name")

    def encode(self) -> bytes:
        return f"getvar {self.name}\n\n".encode()


@dataclass(frozen=True, slots=True)
class Resume(Command):
    """``resume``: continue the dialplan when the socket application ends."""

    def encode(self) -> bytes:
        return b"resume\n\n"


@dataclass(frozen=True, slots=True)
class Exit(Command):
    """``exit``: FreeSWITCH answers ``+OK bye``, sends the disconnect notice and closes."""

    def encode(self) -> bytes:
        return b"exit\n\n"


@dataclass(frozen=True, slots=True)
class UnknownCommand(Command):
    """A command line this codec does not know (only produced by :class:`CommandParser`)."""

    line: str

    def encode(self) -> bytes:
        return f"{_line(self.line, 'command')}\n\n".encode()
