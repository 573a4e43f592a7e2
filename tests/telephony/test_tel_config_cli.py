"""The shipped FreeSWITCH config is well-formed and wired to the app; `ivr esl` commands work."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from tel_captures import CAPTURE_DIR
from typer.testing import CliRunner

from shell.cli import app

FS_DIR = Path(__file__).parents[2] / "telephony" / "freeswitch"


def test_config_files_parse_and_match_the_app() -> None:
    dialplan = ET.parse(FS_DIR / "dialplan" / "ivr.xml").getroot()
    sockets = [a.get("data") for a in dialplan.iter("action") if a.get("application") == "socket"]
    assert sockets and all(s == "127.0.0.1:8084 async full" for s in sockets)
    extensions = {e.get("name") for e in dialplan.iter("extension")}
    # CallSession.enqueue targets (one per flows.model.Queue), and the abandoned-call return
    assert {"queue_senior", "queue_general", "queue_campaign", "campaign_abandoned"} <= extensions
    cc = ET.parse(FS_DIR / "autoload_configs" / "callcenter.conf.xml").getroot()
    queues = {"senior@default", "general@default", "campaign@default"}
    assert {q.get("name") for q in cc.iter("queue")} == queues
    assert {t.get("queue") for t in cc.iter("tier")} == queues
    es = ET.parse(FS_DIR / "autoload_configs" / "event_socket.conf.xml").getroot()
    params = {p.get("name"): p.get("value") for p in es.iter("param")}
    assert params["listen-ip"] == "127.0.0.1" and params["listen-port"] == "8021"


def test_esl_parse_command() -> None:
    result = CliRunner().invoke(
        app, ["esl", "parse", str(CAPTURE_DIR / "inbound-plain-api-bgapi.esl"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["content_types"]["api/response"] > 0 and data["events"]["BACKGROUND_JOB"] > 0


def test_esl_parse_rejects_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"Content-Type: text/x-bogus\n\n")
    result = CliRunner().invoke(app, ["esl", "parse", str(bad)])
    assert result.exit_code == 2


async def test_python_m_telephony_serve_runs_until_sigterm() -> None:
    import asyncio
    import signal
    import sys

    from telephony.simulator import CallerScript, SimulatedCall

    root = Path(__file__).parents[2]
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "telephony",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        cwd=root,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        port = int(line.rsplit(":", 1)[1])
        result = await SimulatedCall(CallerScript()).run("127.0.0.1", port, deadline_s=20)
        assert result.got_exit and result.hangup_by == "ivr"
    finally:
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 30)
    assert code == 0
