"""Property tests of the ESL parser: re-chunking invariance and a bounded fuzz run."""

from __future__ import annotations

import contextlib
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tel_captures import CAPTURES, server_bytes

from telephony.esl import CommandParser, EslRemoteError, Message, Parser

STREAMS = {path.stem: server_bytes(path) for path in CAPTURES}
EXPECTED = {name: Parser().feed(data) for name, data in STREAMS.items()}


def feed_chunks(data: bytes, cuts: list[int]) -> list[Message]:
    parser = Parser()
    out: list[Message] = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out.extend(parser.feed(data[prev:cut]))
        prev = cut
    parser.feed_eof()
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(STREAMS)),
    fractions=st.lists(st.floats(min_value=0, max_value=1), max_size=200),
)
def test_rechunking_gives_the_same_messages(name: str, fractions: list[float]) -> None:
    data = STREAMS[name]
    cuts = [int(f * len(data)) for f in fractions]
    assert feed_chunks(data, cuts) == EXPECTED[name]


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_rechunking_small_frames_densely(data: st.DataObject) -> None:
    stream = STREAMS["inbound-bad-auth"] + STREAMS["inbound-plain-api-bgapi"][:3000]
    cuts = data.draw(st.lists(st.integers(0, len(stream)), max_size=400))
    parser = Parser()
    whole = parser.feed(stream)
    assert feed_chunks_partial(stream, cuts) == whole


def feed_chunks_partial(data: bytes, cuts: list[int]) -> list[Message]:
    parser = Parser()
    out: list[Message] = []
    prev = 0
    for cut in [*sorted(set(cuts)), len(data)]:
        out.extend(parser.feed(data[prev:cut]))
        prev = cut
    return out


def _mutate(rng: random.Random, data: bytes) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.randrange(4)
        pos = rng.randrange(len(buf)) if buf else 0
        if op == 0 and buf:
            buf[pos] = rng.randrange(256)
        elif op == 1:
            buf[pos:pos] = rng.choice([b"\n", b"\n\n", b":", b"%", b"Content-Length: 9\n", b"{"])
        elif op == 2 and buf:
            del buf[pos : pos + rng.randint(1, 50)]
        else:
            buf[pos:pos] = rng.randbytes(rng.randint(1, 20))
    return bytes(buf)


def test_fuzz_random_and_mutated_frames_raise_only_protocol_errors() -> None:
    rng = random.Random(4)
    frames = [m for s in STREAMS.values() for m in _frames_by_length(s)]
    handled = 0
    for i in range(3000):
        if i % 5 == 0:
            data = rng.randbytes(rng.randint(0, 400))
        else:
            data = _mutate(rng, b"".join(rng.sample(frames, 3)))
        parser = Parser(max_body_bytes=1 << 20)
        try:
            for start in range(0, len(data), 97):
                parser.feed(data[start : start + 97])
            parser.feed_eof()
        except EslRemoteError:
            handled += 1
        commands = CommandParser()
        with contextlib.suppress(EslRemoteError):
            commands.feed(data)
    assert handled > 100  # the mutations do hit the error paths


def _frames_by_length(stream: bytes) -> list[bytes]:
    frames = []
    pos = 0
    while pos < len(stream):
        idx = stream.index(b"\n\n", pos)
        head = stream[pos:idx].decode()
        length = 0
        for line in head.split("\n"):
            if line.startswith("Content-Length: "):
                length = int(line.split(": ")[1])
        end = idx + 2 + length
        frames.append(stream[pos:end])
        pos = end
    return frames
