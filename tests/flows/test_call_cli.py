"""`ivr call`: a newcomer places a simulated call through the whole stack and reads it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flows.call_cli import turns_from_args, turns_from_script
from ivr.errors import IvrError
from ivr.settings import get_settings
from shell.cli import app

pytestmark = [pytest.mark.rasa, pytest.mark.slow]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rasa_stack) -> Iterator[Path]:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_RASA_URL", rasa_stack.rasa_url)
    monkeypatch.setenv("IVR_RASA_PROCESSES", "1")  # the test stack runs one Rasa server
    monkeypatch.setenv("IVR_INSTITUTION_NAME", "演示银行")
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_outbound_refusal_call_prints_transcript_and_evidence(env: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "call",
            "--flow",
            "outbound_marketing",
            "--caller",
            "13912345678",
            "--say",
            "不需要谢谢",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    first = data["transcript"][0]
    assert first["who"] == "ivr" and "演示银行" in first["what"]
    kinds = [e["kind"] for e in data["evidence"]]
    assert kinds[:2] == ["call_started", "disclosure_played"]
    assert "consent_refused" in kinds and "dnc_added" in kinds
    assert data["evidence_chain_ok"] is True
    assert data["caller"] == "139****5678"
    assert "13912345678" not in json.dumps(data["evidence"], ensure_ascii=False)


def test_human_output_reads_as_a_transcript(env: Path) -> None:
    result = CliRunner().invoke(app, ["call", "--at", "2026-11-27T11:00:00", "--dtmf", "0"])
    assert result.exit_code == 0, result.output
    assert "IVR" in result.stdout and "CALLER  DTMF 0" in result.stdout
    assert "transferred: queue_general XML ivr" in result.stdout
    assert "verified chain" in result.stdout


def test_out_of_hours_human_request_gets_a_callback_ticket(env: Path) -> None:
    result = CliRunner().invoke(
        app, ["call", "--at", "2026-11-27T23:00:00+08:00", "--dtmf", "0", "--json"]
    )
    data = json.loads(result.stdout)
    assert data["transfer"] is None
    assert "callback_scheduled" in [e["kind"] for e in data["evidence"]]


def test_turns_keep_command_line_order(tmp_path: Path) -> None:
    wav = tmp_path / "a.wav"
    wav.write_bytes(b"RIFF")
    turns = turns_from_args(["--dtmf", "1", "--say", "你好", "--audio", str(wav), "--silent"])
    assert [t.action for t in turns] == ["digits", "say", "say", "silent"]
    assert turns[1].transcript == "你好" and turns[2].audio == wav


def test_script_file_gives_turns_and_options(tmp_path: Path) -> None:
    script = tmp_path / "call.yaml"
    script.write_text("flow: outbound_notice\nturns:\n  - dtmf: '1'\n  - silent: true\n")
    turns, options = turns_from_script(script)
    assert [t.action for t in turns] == ["digits", "silent"]
    assert options == {"flow": "outbound_notice"}


def test_bad_turns_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(IvrError, match="unknown option '--sing'"):
        turns_from_args(["--sing", "la"])
    with pytest.raises(IvrError, match="not found"):
        turns_from_args(["--audio", str(tmp_path / "missing.wav")])
