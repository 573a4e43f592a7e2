"""ESL codec harness: :class:`telephony.esl.Parser` and :class:`telephony.esl.CommandParser`.

Contract: bytes from the peer raise :class:`EslRemoteError` or parse; nothing else escapes.
Property: the frames parsed from the whole input are the frames parsed from any chunking of it
(the first three input bytes choose where it is cut), and every header of every event decodes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from telephony.esl import CommandParser, EslRemoteError, Message, Parser

CAPTURES = Path(__file__).resolve().parent.parent / "tests" / "telephony" / "captures"


def _frames(data: bytes, cuts: list[int]) -> tuple[list[Message], bool]:
    parser = Parser(max_header_bytes=8192, max_body_bytes=65536)
    out: list[Message] = []
    prev = 0
    try:
        for cut in [*cuts, len(data)]:
            out.extend(parser.feed(data[prev:cut]))
            prev = cut
        parser.feed_eof()
    except EslRemoteError:
        return out, False
    return out, True


def _touch(messages: list[Message]) -> None:
    for message in messages:
        _ = message.reply_text, message.ok, message.is_event
        event = message.event
        if event is not None:
            for name in list(event.headers):
                event.get(name)
            _ = event.unique_id, event.application_uuid, event.job_uuid, event.text


def check(data: bytes) -> None:
    if len(data) < 3:
        return
    body = data[3:]
    cuts = sorted({b * len(body) // 256 for b in data[:3]})
    whole, whole_ok = _frames(body, [])
    chunked, chunked_ok = _frames(body, cuts)
    if whole_ok != chunked_ok:
        raise AssertionError(f"cutting at {cuts} changed whether the stream is valid")
    if whole_ok and [(m.headers, m.body) for m in whole] != [(m.headers, m.body) for m in chunked]:
        raise AssertionError(f"cutting at {cuts} changed the frames")
    _touch(whole)
    with contextlib.suppress(EslRemoteError):
        CommandParser().feed(body)


def seeds() -> Iterator[bytes]:
    """Every capture's server side and client side, as one stream each."""
    for path in sorted(CAPTURES.glob("*.esl")):
        data = path.read_bytes()
        parts: dict[str, list[bytes]] = {"server": [], "client": []}
        pos = 0
        while pos < len(data):
            eol = data.index(b"\n", pos)
            _marker, who, n = data[pos:eol].decode("ascii").split(" ")
            start = eol + 1
            parts[who].append(data[start : start + int(n)])
            pos = start + int(n) + 1
        for chunks in parts.values():
            yield b"\x10\x80\xf0" + b"".join(chunks)[:4096]
