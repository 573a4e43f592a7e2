"""The sans-IO ESL frame parser: ``Parser().feed(bytes) -> list[Message]``.

Frames are split on the first blank line; the body is exactly ``Content-Length`` bytes, counted in
bytes, so any chunking works (one byte at a time included). Every peer violation (a header line
without a colon, a bad ``Content-Length``, a missing or unknown ``Content-Type``, an oversized
frame, a truncated stream, a malformed event) raises :class:`EslRemoteError`; after that the
parser refuses further input.
"""

from __future__ import annotations

from collections.abc import Mapping

from telephony.esl.errors import EslRemoteError
from telephony.esl.message import (
    COMMAND_REPLY,
    EVENT_JSON,
    EVENT_PLAIN,
    KNOWN_CONTENT_TYPES,
    EncodedHeaders,
    Event,
    Message,
    decode_json_event,
    decode_plain_event,
    parse_content_length,
    parse_header_block,
)

DEFAULT_MAX_HEADER_BYTES = 256 * 1024
DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024


class Parser:
    """Incremental parser of the frames FreeSWITCH sends to an ESL client."""

    __slots__ = ("_broken", "_buf", "_max_body", "_max_header", "_pending", "_scan")

    def __init__(
        self,
        *,
        max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self._buf = bytearray()
        self._scan = 0
        self._pending: tuple[Mapping[str, str], int] | None = None
        self._max_header = max_header_bytes
        self._max_body = max_body_bytes
        self._broken: str | None = None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete frame."""
        return len(self._buf)

    def feed(self, data: bytes) -> list[Message]:
        """Add received bytes; return every frame they complete, in order."""
        if self._broken is not None:
            raise EslRemoteError(f"stream already failed: {self._broken}")
        try:
            return self._feed(data)
        except EslRemoteError as exc:
            self._broken = str(exc)
            raise

    def feed_eof(self) -> None:
        """The peer closed the stream: fail if it stopped in the middle of a frame."""
        if self._broken is None and (self._pending is not None or self._buf.strip(b"\n")):
            self._broken = "connection closed mid-frame"
            raise EslRemoteError(self._broken)

    def _feed(self, data: bytes) -> list[Message]:
        buf = self._buf
        buf += data
        out: list[Message] = []
        while True:
            if self._pending is None:
                while buf[:1] == b"\n":
                    del buf[:1]
                idx = buf.find(b"\n\n", self._scan)
                if idx < 0:
                    if len(buf) > self._max_header:
                        raise EslRemoteError("header block exceeds the limit")
                    self._scan = max(len(buf) - 1, 0)
                    return out
                if idx > self._max_header:
                    raise EslRemoteError("header block exceeds the limit")
                head = buf[:idx].decode("utf-8", "replace")
                del buf[: idx + 2]
                self._scan = 0
                headers = parse_header_block(head, decode=False)
                length_text = headers.get("Content-Length")
                length = (
                    0 if length_text is None else parse_content_length(length_text, self._max_body)
                )
                if length == 0:
                    out.append(self._build(headers, b""))
                    continue
                self._pending = (headers, length)
            headers, length = self._pending
            if len(buf) < length:
                return out
            body = bytes(buf[:length])
            del buf[:length]
            self._pending = None
            out.append(self._build(headers, body))

    def _build(self, headers: Mapping[str, str], body: bytes) -> Message:
        content_type = headers.get("Content-Type")
        if content_type is None:
            raise EslRemoteError("frame without Content-Type")
        if content_type not in KNOWN_CONTENT_TYPES:
            raise EslRemoteError("unknown Content-Type")
        event: Event | None = None
        if content_type == EVENT_PLAIN:
            event = decode_plain_event(body, self._max_body)
        elif content_type == EVENT_JSON:
            event = decode_json_event(body)
        elif content_type == COMMAND_REPLY and "Event-Name" in headers:
            headers = EncodedHeaders(dict(headers))
            event = Event(headers["Event-Name"], headers, b"", "plain")
        return Message(content_type, headers, body, event)
