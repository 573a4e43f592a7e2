"""Server-side encoders: the frames FreeSWITCH writes (used by the simulator and by tests).

They follow the captures byte for byte: an event frame is ``Content-Length`` then
``Content-Type``; a plain event body is URL-encoded header lines, then a blank line, and the
inner body after an inner ``Content-Length`` line; JSON events are compact objects with the inner
body in ``_body`` and ``ARRAY::`` values as lists.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from telephony.esl.message import ARRAY_PREFIX, split_array
from telephony.esl.urlcodec import url_encode

GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"

Headers = Iterable[tuple[str, str]]


def auth_request() -> bytes:
    """The greeting of an inbound connection."""
    return b"Content-Type: auth/request\n\n"


def command_reply(text: str, extra: Headers = ()) -> bytes:
    """A ``command/reply`` with a raw ``Reply-Text`` and optional extra headers."""
    lines = [f"Content-Type: command/reply\nReply-Text: {text}\n"]
    lines.extend(f"{k}: {v}\n" for k, v in extra)
    lines.append("\n")
    return "".join(lines).encode()


def api_response(body: bytes) -> bytes:
    """An ``api/response`` frame carrying the command's output."""
    return b"Content-Type: api/response\nContent-Length: %d\n\n" % len(body) + body


def channel_data(headers: Headers, *, socket_mode: str = "async", control: str = "full") -> bytes:
    """The outbound ``connect`` reply: URL-encoded channel headers, then reply headers
    (``socket_mode`` async|static, ``control`` full|single-channel, from the socket app's data)."""
    lines = [f"{k}: {url_encode(v)}\n" for k, v in headers]
    lines.append("Content-Type: command/reply\nReply-Text: %2BOK%0A\n")
    lines.append(f"Socket-Mode: {socket_mode}\nControl: {control}\n\n")
    return "".join(lines).encode()


def event_plain(headers: Headers, body: bytes = b"") -> bytes:
    """A ``text/event-plain`` frame (``Event-Name`` must be among ``headers``)."""
    lines = [f"{k}: {url_encode(v)}\n" for k, v in headers]
    if body:
        lines.append(f"Content-Length: {len(body)}\n")
    lines.append("\n")
    inner = "".join(lines).encode() + body
    return b"Content-Length: %d\nContent-Type: text/event-plain\n\n" % len(inner) + inner


def event_json(headers: Headers, body: bytes = b"") -> bytes:
    """A ``text/event-json`` frame."""
    obj: dict[str, object] = {}
    for k, v in headers:
        obj[k] = split_array(v) if v.startswith(ARRAY_PREFIX) else v
    if body:
        obj["Content-Length"] = str(len(body))
        obj["_body"] = body.decode("utf-8", "replace")
    inner = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
    return b"Content-Length: %d\nContent-Type: text/event-json\n\n" % len(inner) + inner


def disconnect_notice(
    *,
    session_uuid: str | None = None,
    linger_channel: str | None = None,
    linger_time: int = -1,
) -> bytes:
    """The linger notice (``linger_channel`` set) or the final goodbye notice."""
    lines = ["Content-Type: text/disconnect-notice\n"]
    if session_uuid is not None:
        lines.append(f"Controlled-Session-UUID: {session_uuid}\n")
    if linger_channel is not None:
        lines.append("Content-Disposition: linger\n")
        lines.append(f"Channel-Name: {linger_channel}\nLinger-Time: {linger_time}\n")
        lines.append("Content-Length: 0\n\n")
        return "".join(lines).encode()
    if session_uuid is not None:
        lines.append("Content-Disposition: disconnect\n")
    lines.append(f"Content-Length: {len(GOODBYE)}\n\n")
    return "".join(lines).encode() + GOODBYE
