"""The ESL codec against the real FreeSWITCH captures, plus its error handling."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tel_captures import CAPTURE_DIR, CAPTURES, client_chunks, server_bytes

from telephony.esl import (
    Api,
    BgApi,
    CommandParser,
    EslLocalError,
    EslRemoteError,
    Execute,
    Hangup,
    Message,
    Parser,
    Subscribe,
    frames,
)


def parse_all(data: bytes) -> list[Message]:
    parser = Parser()
    messages = parser.feed(data)
    parser.feed_eof()
    assert parser.buffered == 0
    return messages


def test_there_are_eleven_captures() -> None:
    assert len(CAPTURES) == 11


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_capture_parses_whole(path: Path) -> None:
    messages = parse_all(server_bytes(path))
    assert messages
    for msg in messages:
        if msg.is_event:
            assert msg.event is not None and msg.event.name
    # the server chunks as received (real TCP segmentation) give the same frames
    parser = Parser()
    chunked = [
        m for chunk in (b for w, b in _chunks(path) if w == "server") for m in parser.feed(chunk)
    ]
    assert chunked == messages


def _chunks(path: Path) -> list[tuple[str, bytes]]:
    from tel_captures import load_capture

    return load_capture(path)


@pytest.mark.parametrize("path", CAPTURES, ids=lambda p: p.stem)
def test_every_client_command_round_trips(path: Path) -> None:
    parser = CommandParser()
    for chunk in client_chunks(path):
        (command,) = parser.feed(chunk)
        assert command.encode() == chunk


def test_one_byte_at_a_time() -> None:
    data = server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback.esl")
    parser = Parser()
    out = [m for i in range(len(data)) for m in parser.feed(data[i : i + 1])]
    assert out == parse_all(data)


def test_connect_reply_is_channel_data_url_decoded() -> None:
    first = parse_all(server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback.esl"))[0]
    assert first.content_type == "command/reply"
    assert first.reply_text == "+OK\n"
    assert first.ok
    assert first.event is not None and first.event.name == "CHANNEL_DATA"
    assert len(first.headers) == 178
    assert first.headers["Channel-Name"] == "sofia/internal/1000@127.0.0.1"
    assert first.headers["Socket-Mode"] == "async"
    assert first.event.unique_id == "387e9313-24e7-4858-9356-f251c746670f"


def test_plain_event_details() -> None:
    messages = parse_all(server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback.esl"))
    events = [m.event for m in messages if m.event is not None]
    digits = [e.headers["DTMF-Digit"] for e in events if e.name == "DTMF"]
    assert digits == ["1", "2", "3", "#"]
    job = next(e for e in events if e.name == "BACKGROUND_JOB")
    assert job.body == b"SIPp-dtmf-test"
    assert job.job_uuid == "2bfabc47-618a-4712-901b-ed8097153dd4"
    played = next(
        e
        for e in events
        if e.name == "CHANNEL_EXECUTE_COMPLETE" and e.headers["Application"] == "playback"
    )
    assert played.headers["Application-Response"] == "FILE PLAYED"
    assert played.application_uuid == "423a9087-163f-4529-8a76-870244705913"
    getvar = next(m for m in messages if m.reply_text == "hello world & more")
    assert getvar.content_type == "command/reply"
    dp = next(e for e in events if "variable_DP_MATCH" in e.headers)
    assert dp.headers["variable_DP_MATCH"] == "ARRAY::DELAYED NEGOTIATION|:DELAYED NEGOTIATION"
    notices = [m for m in messages if m.content_type == "text/disconnect-notice"]
    assert [n.headers.get("Content-Disposition") for n in notices] == ["linger", "disconnect"]
    assert notices[1].body.startswith(b"Disconnected, goodbye.")


def test_json_and_plain_events_agree() -> None:
    plain = parse_all(server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback.esl"))
    as_json = parse_all(server_bytes(CAPTURE_DIR / "outbound-sip-dtmf-playback-json.esl"))
    names_plain = [m.event.name for m in plain if m.is_event and m.event]
    names_json = [m.event.name for m in as_json if m.is_event and m.event]
    assert "DTMF" in names_json and names_json.count("DTMF") == names_plain.count("DTMF")
    dp = next(m.event for m in as_json if m.event and "variable_DP_MATCH" in m.event.headers)
    assert dp.headers["variable_DP_MATCH"] == "ARRAY::DELAYED NEGOTIATION|:DELAYED NEGOTIATION"
    job = next(m.event for m in as_json if m.event and m.event.name == "BACKGROUND_JOB")
    assert job.body == b"SIPp-dtmf-test"
    assert job.format == "json"


def test_api_responses_and_bgapi_replies() -> None:
    messages = parse_all(server_bytes(CAPTURE_DIR / "inbound-plain-api-bgapi.esl"))
    assert messages[0].content_type == "auth/request"
    api = [m for m in messages if m.content_type == "api/response"]
    assert api[1].body == b"-ERR no_such_command Command not found!\n" and not api[1].ok
    assert api[0].ok
    bg = next(m for m in messages if (m.reply_text or "").startswith("+OK Job-UUID"))
    assert bg.headers["Job-UUID"] in (bg.reply_text or "")
    jobs = [m.event for m in messages if m.event and m.event.name == "BACKGROUND_JOB"]
    assert b"-ERR NO_ROUTE_DESTINATION\n" in [j.body for j in jobs]


def test_bad_auth() -> None:
    messages = parse_all(server_bytes(CAPTURE_DIR / "inbound-bad-auth.esl"))
    assert [m.content_type for m in messages] == [
        "auth/request",
        "command/reply",
        "text/disconnect-notice",
    ]
    assert messages[1].reply_text == "-ERR invalid" and not messages[1].ok


@pytest.mark.parametrize(
    "data",
    [
        b"Content-Type: text/x-unknown\n\n",
        b"Reply-Text: +OK\n\n",
        b"Content-Type command/reply\n\n",
        b"Content-Type: api/response\nContent-Length: -3\n\n",
        b"Content-Type: api/response\nContent-Length: 12abc\n\n",
        b"Content-Length: 5\nContent-Type: text/event-json\n\n[1,2]",
        b"Content-Length: 5\nContent-Type: text/event-json\n\n{bad}",
        b"Content-Length: 9\nContent-Type: text/event-plain\n\nA: b\nC: d",
        b"Content-Length: 37\nContent-Type: text/event-plain\n\n"
        b"Event-Name: X\nContent-Length: 99\n\nabc",
    ],
)
def test_peer_violations_raise_remote_errors(data: bytes) -> None:
    parser = Parser()
    with pytest.raises(EslRemoteError):
        parser.feed(data)
    with pytest.raises(EslRemoteError):
        parser.feed(b"Content-Type: command/reply\nReply-Text: +OK\n\n")


def test_limits_and_truncation() -> None:
    parser = Parser(max_header_bytes=100)
    with pytest.raises(EslRemoteError):
        parser.feed(b"X-Long: " + b"a" * 200)
    parser = Parser(max_body_bytes=10)
    with pytest.raises(EslRemoteError):
        parser.feed(b"Content-Type: api/response\nContent-Length: 11\n\n")
    parser = Parser()
    assert parser.feed(b"Content-Type: api/response\nContent-Length: 5\n\nab") == []
    with pytest.raises(EslRemoteError):
        parser.feed_eof()


@pytest.mark.parametrize(
    "build",
    [
        lambda: Execute("playback", "a\nb"),
        lambda: Execute("play back"),
        lambda: Api("status", "x\r\ny"),
        lambda: BgApi("", "x"),
        lambda: Subscribe("yaml", ("ALL",)),
        lambda: Subscribe("plain", ()),
        lambda: Hangup("NORMAL CLEARING"),
    ],
)
def test_our_misuse_raises_local_errors(build: object) -> None:
    with pytest.raises(EslLocalError):
        build()  # type: ignore[operator]


def test_server_encoders_parse_back() -> None:
    headers = [
        ("Event-Name", "DTMF"),
        ("Unique-ID", "u-1"),
        ("DTMF-Digit", "#"),
        ("variable_x", "ARRAY::a b|:c"),
        ("Note", "100% sure: 你好"),
    ]
    for encoded in (frames.event_plain(headers, b"body\n"), frames.event_json(headers, b"body\n")):
        (msg,) = parse_all(encoded)
        assert msg.event is not None
        assert msg.event.body == b"body\n"
        assert {k: v for k, v in msg.event.headers.items() if k != "Content-Length"} == dict(
            headers
        )
    (reply,) = parse_all(frames.command_reply("+OK Job-UUID: j", [("Job-UUID", "j")]))
    assert reply.headers["Job-UUID"] == "j"
    (api,) = parse_all(frames.api_response(b"+OK\n"))
    assert api.body == b"+OK\n"
    notice = parse_all(frames.disconnect_notice(session_uuid="u", linger_channel="sofia/x@y"))
    assert notice[0].headers["Linger-Time"] == "-1"
    assert json.loads(frames.event_json(headers).split(b"\n\n", 1)[1])["variable_x"] == ["a b", "c"]
