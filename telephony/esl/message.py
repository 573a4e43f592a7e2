"""Decoded ESL messages: one :class:`Message` per frame, with its :class:`Event` if it has one.

A frame is ``Name: value`` header lines, a blank line, then ``Content-Length`` bytes of body.
Outer header values are raw, except in the outbound ``connect`` reply (``CHANNEL_DATA``), whose
values are URL-encoded like a plain event's. Events arrive as ``text/event-plain`` (URL-encoded
headers, optional inner body after an inner ``Content-Length``) or ``text/event-json`` (a flat
object, body in ``_body``, arrays for multi-valued variables). Both decode to the same
:class:`Event`: string headers, arrays rendered as FreeSWITCH's ``ARRAY::a|:b``.
"""

from __future__ import annotations

import json
from collections.abc import ItemsView, Iterator, Mapping, ValuesView
from dataclasses import dataclass
from typing import Final

from telephony.esl.errors import EslRemoteError
from telephony.esl.urlcodec import url_decode

AUTH_REQUEST: Final = "auth/request"
COMMAND_REPLY: Final = "command/reply"
API_RESPONSE: Final = "api/response"
EVENT_PLAIN: Final = "text/event-plain"
EVENT_JSON: Final = "text/event-json"
DISCONNECT_NOTICE: Final = "text/disconnect-notice"
RUDE_REJECTION: Final = "text/rude-rejection"
KNOWN_CONTENT_TYPES: Final = frozenset(
    {
        AUTH_REQUEST,
        COMMAND_REPLY,
        API_RESPONSE,
        EVENT_PLAIN,
        EVENT_JSON,
        DISCONNECT_NOTICE,
        RUDE_REJECTION,
    }
)
ARRAY_PREFIX: Final = "ARRAY::"


@dataclass(frozen=True, slots=True)
class Event:
    """One FreeSWITCH event: its name, decoded headers (in wire order) and inner body bytes."""

    name: str
    headers: Mapping[str, str]
    body: bytes = b""
    format: str = "plain"

    def get(self, name: str, default: str | None = None) -> str | None:
        """A header value, or ``default``."""
        return self.headers.get(name, default)

    @property
    def unique_id(self) -> str | None:
        """The channel UUID the event is about (``Unique-ID``)."""
        return self.headers.get("Unique-ID")

    @property
    def application_uuid(self) -> str | None:
        """``Application-UUID`` of CHANNEL_EXECUTE(_COMPLETE): our ``Event-UUID``."""
        return self.headers.get("Application-UUID")

    @property
    def job_uuid(self) -> str | None:
        """``Job-UUID`` of a BACKGROUND_JOB."""
        return self.headers.get("Job-UUID")

    @property
    def subclass(self) -> str | None:
        """``Event-Subclass`` of a CUSTOM event."""
        return self.headers.get("Event-Subclass")

    @property
    def text(self) -> str:
        """The inner body as text (a job's result, for example)."""
        return self.body.decode("utf-8", "replace")


@dataclass(frozen=True, slots=True)
class Message:
    """One ESL frame from FreeSWITCH: content type, decoded outer headers, body, event if any."""

    content_type: str
    headers: Mapping[str, str]
    body: bytes = b""
    event: Event | None = None

    @property
    def reply_text(self) -> str | None:
        """``Reply-Text`` of a ``command/reply`` (raw, except in the connect reply)."""
        return self.headers.get("Reply-Text")

    @property
    def is_reply(self) -> bool:
        """True for replies to a command: ``command/reply`` and ``api/response``."""
        return self.content_type in (COMMAND_REPLY, API_RESPONSE)

    @property
    def ok(self) -> bool:
        """Whether a reply reports success (``+OK``; an api response not starting ``-ERR``)."""
        if self.content_type == API_RESPONSE:
            return not self.body.startswith((b"-ERR", b"-USAGE"))
        text = self.reply_text
        return text is not None and text.startswith("+OK")

    @property
    def text(self) -> str:
        """The reply as text: ``Reply-Text``, or the body of an api response."""
        if self.content_type == COMMAND_REPLY:
            return self.reply_text or ""
        return self.body.decode("utf-8", "replace")

    @property
    def is_event(self) -> bool:
        """True for ``text/event-plain`` and ``text/event-json`` frames."""
        return self.content_type in (EVENT_PLAIN, EVENT_JSON)


def parse_header_block(text: str, *, decode: bool) -> Mapping[str, str]:
    """``Name: value`` lines to a mapping (wire order; a repeated name keeps its last value).

    With ``decode``, values are URL-decoded lazily, on first access (see :class:`EncodedHeaders`).
    """
    lines = text.split("\n")
    try:  # fast path: every line is "Name: value"
        fast: dict[str, str] = dict([line.split(": ", 1) for line in lines if line])
    except ValueError:
        pass
    else:
        if "" not in fast:
            return EncodedHeaders(fast) if decode else fast
    headers: dict[str, str] = {}
    for line in lines:
        if not line:
            continue
        name, sep, value = line.partition(": ")
        if not sep:
            name, sep, value = line.partition(":")
            if not sep:
                raise EslRemoteError(f"header line without a colon ({len(line)} bytes)")
        if not name or " " in name:
            raise EslRemoteError("invalid header name")
        headers[name] = value
    return EncodedHeaders(headers) if decode else headers


class EncodedHeaders(Mapping[str, str]):
    """Read-only headers whose URL-encoded values are decoded on first access, then cached.

    An event carries 60-280 headers and a handler reads a handful: decoding them all up front
    would dominate parsing time.
    """

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: dict[str, str]) -> None:
        self._raw = raw
        self._decoded: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        value = self._decoded.get(name)
        if value is None:
            value = self._raw[name]
            if "%" in value:
                value = url_decode(value)
            self._decoded[name] = value
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __repr__(self) -> str:
        return f"EncodedHeaders({len(self._raw)} headers)"

    def decoded(self) -> dict[str, str]:
        """Every header decoded, as a plain dict (one batched decode for all values)."""
        if len(self._decoded) < len(self._raw):
            raw = self._raw
            joined = "\x00".join(raw.values())
            values = url_decode(joined).split("\x00") if "%" in joined else list(raw.values())
            if len(values) != len(raw):  # a value decoded to NUL: decode one by one
                values = [url_decode(v) for v in raw.values()]
            self._decoded = dict(zip(raw, values, strict=True))
        return dict(self._decoded)

    def items(self) -> ItemsView[str, str]:
        return self.decoded().items()

    def values(self) -> ValuesView[str]:
        return self.decoded().values()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Mapping):
            return self.decoded() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def raw(self, name: str) -> str | None:
        """A value exactly as it was on the wire (still URL-encoded)."""
        return self._raw.get(name)


def parse_content_length(value: str, limit: int) -> int:
    """A ``Content-Length`` value, checked: ASCII digits, at most ``limit``."""
    if not value.isascii() or not value.isdigit() or len(value) > 12:
        raise EslRemoteError("invalid Content-Length")
    length = int(value)
    if length > limit:
        raise EslRemoteError(f"Content-Length {length} exceeds the limit {limit}")
    return length


def decode_plain_event(body: bytes, limit: int) -> Event:
    """Decode a ``text/event-plain`` body: URL-encoded headers, then an optional inner body."""
    head, _, rest = body.partition(b"\n\n")
    headers = parse_header_block(head.decode("utf-8", "replace"), decode=True)
    name = headers.get("Event-Name")
    if not name:
        raise EslRemoteError("plain event without Event-Name")
    inner = b""
    length_text = headers.get("Content-Length")
    if length_text is not None:
        length = parse_content_length(length_text, limit)
        if len(rest) < length:
            raise EslRemoteError("plain event inner body shorter than its Content-Length")
        inner = rest[:length]
    return Event(name, headers, inner, "plain")


def decode_json_event(body: bytes) -> Event:
    """Decode a ``text/event-json`` body: a flat object; ``_body`` is the inner body."""
    try:
        obj = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise EslRemoteError(f"invalid JSON event: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise EslRemoteError("JSON event is not an object")
    headers: dict[str, str] = {}
    inner = b""
    for key, value in obj.items():
        if key == "_body":
            inner = str(value).encode("utf-8")
        elif isinstance(value, str):
            headers[key] = value
        elif isinstance(value, list):
            headers[key] = ARRAY_PREFIX + "|:".join(str(v) for v in value)
        else:
            headers[key] = json.dumps(value, ensure_ascii=False)
    name = headers.get("Event-Name")
    if not name:
        raise EslRemoteError("JSON event without Event-Name")
    return Event(name, headers, inner, "json")


def split_array(value: str) -> list[str]:
    """A header value as a list: ``ARRAY::a|:b`` gives ``["a", "b"]``, anything else ``[value]``."""
    if value.startswith(ARRAY_PREFIX):
        return value[len(ARRAY_PREFIX) :].split("|:")
    return [value]
