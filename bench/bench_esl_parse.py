"""Parse throughput: our sans-IO ESL parser vs greenswitch's and genesis's, on the same bytes.

Run: ``.venv/bin/python bench/bench_esl_parse.py`` (``make bench`` installs the baselines:
greenswitch from the ``bench`` extra, genesis with ``--no-deps`` from
``constraints/bench-nodeps.txt``). Every parser gets the server side of every plain-event capture,
repeated; we count events (frames of ``text/event-plain``) per second. Ours is fed in the
captures' own TCP chunks (real segmentation); greenswitch reads from an in-memory file as it
reads its socket; genesis runs its own reader (``Session.handler``: ``readline`` to the blank
line, then ``readexactly`` the body, through its ``ESLReaderFSM``) on an asyncio StreamReader
holding the same bytes. Both baselines URL-decode every header value.
"""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "telephony"))

from tel_captures import CAPTURES, load_capture  # noqa: E402

from telephony.esl import Parser  # noqa: E402

REPEAT = 20
ROUNDS = 5


def load(json_only: bool) -> list[bytes]:
    chunks: list[bytes] = []
    for path in CAPTURES:
        if ("json" in path.name) != json_only or "bad-auth" in path.name:
            continue
        chunks += [data for who, data in load_capture(path) if who == "server" and data]
    return chunks * REPEAT


def ours(chunks: list[bytes]) -> int:
    parser = Parser()
    events = 0
    for chunk in chunks:
        for message in parser.feed(chunk):
            if message.event is not None and message.is_event:
                events += 1
    return events


GOODBYE = b"Disconnected, goodbye.\nSee you at ClueCon! http://www.cluecon.com/\n"


def ours_decode_all(chunks: list[bytes]) -> int:
    """Ours, also URL-decoding every header value (what greenswitch always does)."""
    parser = Parser()
    events = 0
    for chunk in chunks:
        for message in parser.feed(chunk):
            if message.event is not None and message.is_event:
                dict(message.event.headers.items())
                events += 1
    return events


def greenswitch_run(stream: bytes) -> int:
    from greenswitch import esl  # type: ignore[import-untyped]

    class Slot:
        def set(self, value: object) -> None:
            pass

    class Sink(list):  # type: ignore[type-arg]
        def put(self, item: object) -> None:
            self.append(item)

    proto = esl.ESLProtocol()
    proto.sock_file = io.BytesIO(stream)
    proto.sock = proto.sock_file
    proto._commands_sent = [
        Slot()
        for _ in range(
            stream.count(b"Content-Type: command/reply")
            + stream.count(b"Content-Type: api/response")
        )
    ]
    proto._esl_event_queue = Sink()
    proto.receive_events()
    return sum(1 for e in proto._esl_event_queue if e.headers.get("Event-Name"))


def genesis_run(stream: bytes) -> int:
    from genesis import Session  # type: ignore[import-untyped]

    async def read_all() -> int:
        reader = asyncio.StreamReader(limit=1 << 24)
        reader.feed_data(stream)
        reader.feed_eof()
        session = Session(reader, None)
        session.is_connected = True
        await session.handler()
        events = 0
        while not session.events.empty():
            event = session.events.get_nowait()
            if event is not None and event.get("Content-Type") == "text/event-plain":
                events += 1
        return events

    return asyncio.run(read_all())


def best(fn, arg) -> tuple[float, int]:  # type: ignore[no-untyped-def]
    times = []
    count = 0
    for _ in range(ROUNDS):
        start = time.perf_counter()
        count = fn(arg)
        times.append(time.perf_counter() - start)
    return statistics.median(times), count


def rate(events: int, seconds: float, size: int) -> str:
    return f"{events / seconds:>10,.0f} events/s  ({size / seconds / 1e6:5.1f} MB/s)"


def main() -> None:
    plain = load(json_only=False)
    stream = b"".join(plain)
    t_ours, n_ours = best(ours, plain)
    t_all, _ = best(ours_decode_all, plain)
    print(f"stream: {len(stream) / 1e6:.1f} MB of plain-event captures x{REPEAT}, {n_ours} events")
    print(f"ours, lazy value decoding : {rate(n_ours, t_ours, len(stream))}")
    print(f"ours, every value decoded : {rate(n_ours, t_all, len(stream))}")
    # greenswitch does not read the body of a disconnect notice and then crashes on it
    # (AttributeError in ESLEvent.parse_data): give it the stream without those bodies.
    gs_stream = stream.replace(GOODBYE, b"")
    try:
        t_gs, n_gs = best(greenswitch_run, gs_stream)
    except ImportError:
        print("greenswitch not installed: pip install -e '.[bench]'")
    else:
        print(f"greenswitch 0.0.19        : {rate(n_gs, t_gs, len(gs_stream))}  ({n_gs} events)")
        print(
            f"ours / greenswitch        : {t_gs / t_ours * n_ours / n_gs:.2f}x (lazy), "
            f"{t_gs / t_all * n_ours / n_gs:.2f}x (every value decoded)"
        )
    try:
        t_gen, n_gen = best(genesis_run, stream)
    except ImportError:
        print("genesis not installed: pip install --no-deps -r constraints/bench-nodeps.txt")
    else:
        print(f"genesis 2026.10.18        : {rate(n_gen, t_gen, len(stream))}  ({n_gen} events)")
        print(
            f"ours / genesis            : {t_gen / t_ours * n_ours / n_gen:.2f}x (lazy), "
            f"{t_gen / t_all * n_ours / n_gen:.2f}x (every value decoded)"
        )
    json_chunks = load(json_only=True)
    t_json, n_json = best(ours, json_chunks)
    size = sum(map(len, json_chunks))
    print(f"ours, JSON events         : {rate(n_json, t_json, size)}  (greenswitch has no JSON)")


if __name__ == "__main__":
    main()
