"""The simulator's traffic has the captures' shape: header names and order, encodings, ordering."""

from __future__ import annotations

from pathlib import Path

from tel_captures import CAPTURE_DIR, client_chunks, load_capture, server_bytes

from telephony.esl import Event, Message, Parser, url_decode, url_encode
from telephony.session import CallSession
from telephony.simulator import CallerScript, SimulatedCall

REFERENCE = CAPTURE_DIR / "outbound-sip-dtmf-playback.esl"
SAME_GROUP = ("variable_", "Caller-", "Channel-Read-Codec", "Channel-Write-Codec")


def shape(headers: list[str]) -> list[str]:
    """Header names with each variable-length block collapsed to one marker."""
    out: list[str] = []
    for name in headers:
        group = next((g + "*" for g in SAME_GROUP if name.startswith(g)), name)
        if group.startswith("Channel-") and group.endswith("Codec*"):
            group = "codec*"
        if not out or out[-1] != group:
            out.append(group)
    return out


def key(event: Event) -> tuple[str, str | None]:
    return event.name, event.get("Application")


def shapes(messages: list[Message]) -> dict[tuple[str, str | None], list[str]]:
    return {key(m.event): shape(list(m.event.headers)) for m in messages if m.event is not None}


async def flow(session: CallSession) -> None:
    await session.answer()
    await session.play("tone_stream://%(1000,0,440)")
    await session.play_and_get_digits("tone_stream://%(200,50,600)", max_digits=5)
    await session.record("/tmp/r.wav", max_seconds=5)
    await session.set_variable("esl_capture_var", "hello world & more")
    await session.get_variable("esl_capture_var")
    await session.wait_hangup()


async def simulated_traffic(start_server, tmp_path: Path, **script: object):
    server = await start_server(flow)
    call = SimulatedCall(
        CallerScript(digits="123#", hangup_after_ms=3_000_000, **script),  # type: ignore[arg-type]
        time_scale=0.0001,
        record_dir=tmp_path,
        keep_traffic=True,
    )
    result = await call.run(server.host, server.port, deadline_s=20)
    await server.server.wait_idle()
    sent = b"".join(data for who, data in result.traffic if who == "server")
    return result, Parser().feed(sent)


async def test_event_headers_have_the_captures_names_and_order(start_server, tmp_path) -> None:
    _, simulated = await simulated_traffic(start_server, tmp_path)
    real = shapes(Parser().feed(server_bytes(REFERENCE)))
    sim = shapes(simulated)
    common = set(real) & set(sim)
    assert len(common) >= 15, sorted(common)
    for k in sorted(common, key=str):
        assert sim[k] == real[k], (
            k,
            [x for x in sim[k] if x not in real[k]],
            [x for x in real[k] if x not in sim[k]],
        )
    assert shape(list(simulated[0].headers)) == shape(
        list(Parser().feed(server_bytes(REFERENCE))[0].headers)
    )


async def test_event_ordering_and_replies_match(start_server, tmp_path) -> None:
    _, simulated = await simulated_traffic(start_server, tmp_path)
    real = Parser().feed(server_bytes(REFERENCE))

    def trace(messages: list[Message]) -> list[str]:
        out = []
        for m in messages:
            if m.event is not None and m.is_event:
                if m.event.name != "BACKGROUND_JOB" and m.event.name != "CHANNEL_PARK":
                    out.append(m.event.name + ":" + (m.event.get("Application") or ""))
            elif m.content_type == "text/disconnect-notice":
                out.append("notice:" + m.headers.get("Content-Disposition", ""))
            elif m.reply_text is not None and m.event is None:
                out.append("reply:" + (m.reply_text if m.reply_text.startswith("+OK") else "value"))
        return out

    real_trace = [t for t in trace(real) if not t.startswith(("reply:+OK Job", "api"))]
    sim_trace = trace(simulated)
    # answer and playback with the prompt, the digits, the record, the sets, the hangup burst
    for segment in (
        [
            "CHANNEL_EXECUTE:answer",
            "CHANNEL_PROGRESS_MEDIA:",
            "CHANNEL_ANSWER:",
            "CHANNEL_EXECUTE_COMPLETE:answer",
        ],
        ["DTMF:", "DTMF:", "DTMF:", "DTMF:", "CHANNEL_EXECUTE_COMPLETE:play_and_get_digits"],
        [
            "CHANNEL_EXECUTE:record",
            "RECORD_START:",
            "RECORD_STOP:",
            "CHANNEL_EXECUTE_COMPLETE:record",
        ],
        [
            "CHANNEL_HANGUP:",
            "CHANNEL_UNPARK:",
            "CHANNEL_EXECUTE_COMPLETE:socket",
            "CHANNEL_STATE:",
            "CHANNEL_STATE:",
            "CHANNEL_HANGUP_COMPLETE:",
            "notice:linger",
            "reply:+OK bye",
            "notice:disconnect",
        ],
    ):
        assert _contains(real_trace, segment), segment
        assert _contains(sim_trace, segment), segment
    assert (
        sim_trace[:3]
        == real_trace[:3]
        == [
            "reply:+OK Events Enabled",
            "reply:+OK event listener enabled plain",
            "reply:+OK will linger",
        ]
    )


def _contains(seq: list[str], segment: list[str]) -> bool:
    return any(seq[i : i + len(segment)] == segment for i in range(len(seq)))


async def test_session_sends_the_captures_setup_commands(start_server, tmp_path) -> None:
    result, _ = await simulated_traffic(start_server, tmp_path)
    ours = [c.encode() for c in result.commands[:4]]
    assert ours == client_chunks(REFERENCE)[:4]


async def test_json_mode_matches_json_capture_encoding(start_server, tmp_path) -> None:
    from dataclasses import replace

    from tel_support import TEST_CONFIG

    server = await start_server(flow, replace(TEST_CONFIG, event_format="json"))
    call = SimulatedCall(
        CallerScript(digits="1#", hangup_after_ms=3_000_000),
        keep_traffic=True,
        time_scale=0.0001,
        record_dir=tmp_path,
    )
    result = await call.run(server.host, server.port, deadline_s=20)
    await server.server.wait_idle()
    sent = b"".join(d for w, d in result.traffic if w == "server")
    sim = Parser().feed(sent)
    real = Parser().feed(server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback-json.esl"))
    assert {m.content_type for m in sim} == {m.content_type for m in real} - {"api/response"}
    sim_dp = next(
        m.event for m in sim if m.event and m.is_event and "variable_DP_MATCH" in m.event.headers
    )
    assert sim_dp.headers["variable_DP_MATCH"].startswith("ARRAY::")
    assert b'"variable_DP_MATCH":["' in sent


def test_url_encoding_matches_every_plain_value_in_the_captures() -> None:
    checked = 0
    for path in sorted(CAPTURE_DIR.glob("*.esl")):
        if "json" in path.name:
            continue
        for who, chunk in load_capture(path):
            del who, chunk
        data = server_bytes(path)
        pos = 0
        while (start := data.find(b"Content-Type: text/event-plain\n\n", pos)) >= 0:
            body_start = start + len(b"Content-Type: text/event-plain\n\n")
            head = data.rfind(b"Content-Length: ", 0, start)
            length = int(data[head + 16 : data.index(b"\n", head)])
            body = data[body_start : body_start + length]
            pos = body_start + length
            for line in body.partition(b"\n\n")[0].decode().split("\n"):
                name, _, raw = line.partition(": ")
                if name == "Content-Length":
                    continue
                assert url_encode(url_decode(raw)) == raw, (name, raw)
                checked += 1
    assert checked > 10_000
