"""`ivr` commands of the telephony package (registered by :mod:`shell.cli`).

``ivr esl parse FILE``: decode a capture transcript (``>>> client n`` / ``<<< server n``) or a raw
byte stream from FreeSWITCH and summarise its frames. ``ivr esl call``: place one simulated call
into a running outbound server (``python -m telephony serve``) and report what happened.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import typer

from ivr.output import JSON_OPTION, emit, fail
from telephony.esl import EslRemoteError, Parser

esl_app = typer.Typer(help="FreeSWITCH event socket tools.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    app.add_typer(esl_app, name="esl")


def _server_stream(data: bytes) -> bytes:
    if not data.startswith((b">>> client ", b"<<< server ")):
        return data
    out, pos = [], 0
    while pos < len(data):
        eol = data.index(b"\n", pos)
        _, who, n = data[pos:eol].decode("ascii").split(" ")
        start, end = eol + 1, eol + 1 + int(n)
        if who == "server":
            out.append(data[start:end])
        pos = end + 1
    return b"".join(out)


@esl_app.command("parse")
def parse_cmd(path: Path, as_json: bool = JSON_OPTION) -> None:
    """Parse an ESL capture or raw stream; print frame and event counts."""
    try:
        stream = _server_stream(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read {path}: {exc}") from None
    parser = Parser()
    try:
        messages = parser.feed(stream)
        parser.feed_eof()
    except EslRemoteError as exc:
        raise fail(f"{path}: invalid ESL: {exc}", 2) from None
    types = Counter(m.content_type for m in messages)
    events = Counter(m.event.name for m in messages if m.event is not None)
    data = {"file": str(path), "frames": len(messages), "content_types": dict(types)}
    data["events"] = dict(events)

    def human(d: dict[str, Any]) -> str:
        lines = [f"{d['file']}: {d['frames']} frames"]
        lines += [f"  {k}: {v}" for k, v in sorted(d["content_types"].items())]
        lines += [f"  event {k}: {v}" for k, v in sorted(d["events"].items())]
        return "\n".join(lines)

    emit(data, as_json, human)


@esl_app.command("call")
def call_cmd(
    host: str = typer.Option("127.0.0.1", help="outbound ESL server host"),
    port: int = typer.Option(8084, help="outbound ESL server port"),
    digits: str = typer.Option("", help="DTMF the simulated caller presses when asked"),
    hangup_during: str | None = typer.Option(None, help="application to hang up during"),
    time_scale: float = typer.Option(0.05, help="media time factor (1 = real time)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Place one simulated FreeSWITCH call into a running outbound server."""
    from telephony.esl import Execute
    from telephony.simulator import CallerScript, SimulatedCall

    script = CallerScript(digits=digits, hangup_during=hangup_during)
    try:
        result = asyncio.run(SimulatedCall(script, time_scale=time_scale).run(host, port))
    except OSError as exc:
        raise fail(f"cannot reach the ESL server at {host}:{port}: {exc}") from None
    data = {
        "uuid": result.uuid,
        "applications": [c.app for c in result.commands if isinstance(c, Execute)],
        "events": len(result.events),
        "hangup_by": result.hangup_by,
        "hangup_cause": result.hangup_cause,
        "clean_exit": result.got_exit,
        "recordings": [str(p) for p in result.recordings],
    }
    emit(
        data,
        as_json,
        lambda d: "\n".join(f"{k}: {v}" for k, v in d.items()),
    )
    if result.timed_out:
        raise typer.Exit(1)
