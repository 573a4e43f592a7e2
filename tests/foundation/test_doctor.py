"""`ivr doctor`: one line per dependency: OK, or what is wrong and the command that fixes it."""

from __future__ import annotations

import json
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ivr.settings import get_settings
from ivr.spool import Spool
from shell.cli import app
from shell.services import free_port


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("IVR_RASA_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("IVR_ACTION_SERVER_PORT", str(free_port()))
    monkeypatch.setenv("IVR_ESL_PORT", str(free_port()))
    monkeypatch.setenv("IVR_CONSOLE_PORT", str(free_port()))
    monkeypatch.delenv("IVR_FREESWITCH_INBOUND", raising=False)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def run_doctor() -> tuple[int, dict[str, dict[str, str]]]:
    result = CliRunner().invoke(app, ["doctor", "--json"])
    return result.exit_code, {row["name"]: row for row in json.loads(result.stdout)}


def test_services_down_are_reported_with_a_fix(env: pytest.MonkeyPatch) -> None:
    env.delenv("IVR_REDIS_URL", raising=False)
    code, rows = run_doctor()
    assert code == 1
    for name in ("rasa server", "action server", "esl server", "web console"):
        assert rows[name]["status"] == "FAIL"
        assert rows[name]["fix"] == "make run"
    assert rows["database"]["status"] == "OK"
    assert rows["redis"]["status"] == "SKIP"
    assert rows["call qa"]["status"] == "WARN"  # QA on, but its live alerts are only logged
    assert rows["freeswitch"]["status"] == "SKIP"
    assert any(name.startswith("speech: ") for name in rows)
    assert rows["outage spool"]["status"] == "OK"
    assert "empty" in rows["outage spool"]["detail"]


def test_outage_spool_row_shows_items_waiting_and_a_path_not_writable(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    path = tmp_path / "spool" / "outage.sqlite3"
    env.setenv("IVR_SPOOL_PATH", str(path))
    spool = Spool(path)
    spool.put("evidence", {"n": 1})
    spool.put("recording", {"n": 2})
    spool.close()
    _, rows = run_doctor()
    assert rows["outage spool"]["status"] == "OK"
    assert "2 items waiting" in rows["outage spool"]["detail"]
    with sqlite3.connect(path) as conn:  # the oldest has waited ten minutes
        conn.execute("UPDATE items SET spooled_at = spooled_at - 600 WHERE id = 1")
    _, rows = run_doctor()
    assert rows["outage spool"]["status"] == "WARN"
    assert "oldest 6" in rows["outage spool"]["detail"]
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    env.setenv("IVR_SPOOL_PATH", str(blocked / "spool" / "outage.sqlite3"))
    get_settings.cache_clear()
    _, rows = run_doctor()
    assert rows["outage spool"]["status"] == "FAIL"
    assert rows["outage spool"]["fix"]


def test_redis_checked_when_configured(env: pytest.MonkeyPatch) -> None:
    env.setenv("IVR_REDIS_URL", "redis://127.0.0.1:6379/0")
    _, rows = run_doctor()
    assert rows["redis"]["status"] == "OK"
    assert rows["call qa"]["status"] == "OK" and ":qa:alerts" in rows["call qa"]["detail"]
    env.setenv("IVR_REDIS_URL", f"redis://:secret@127.0.0.1:{free_port()}/0")
    get_settings.cache_clear()
    _, rows = run_doctor()
    assert rows["redis"]["status"] == "FAIL"
    assert "secret" not in rows["redis"]["detail"]


def test_unreachable_freeswitch_is_a_failure(env: pytest.MonkeyPatch) -> None:
    env.setenv("IVR_FREESWITCH_INBOUND", f"127.0.0.1:{free_port()}")
    _, rows = run_doctor()
    assert rows["freeswitch"]["status"] == "FAIL"
    assert "event_socket" in rows["freeswitch"]["fix"]


def test_call_qa_switched_off_is_shown(env: pytest.MonkeyPatch) -> None:
    env.setenv("IVR_QA_CALLS", "false")
    _, rows = run_doctor()
    assert rows["call qa"]["status"] == "WARN"
    assert "OFF" in rows["call qa"]["detail"]


def test_agent_leg_qa_row_names_what_live_agent_qa_needs(env: pytest.MonkeyPatch) -> None:
    env.delenv("IVR_AUDIO_MODE", raising=False)
    _, rows = run_doctor()
    row = rows["agent leg qa"]  # record mode, no switch events: off, and what turns it on
    assert row["status"] == "WARN"
    assert "IVR_AUDIO_MODE=record" in row["detail"] and "IVR_FREESWITCH_INBOUND" in row["detail"]
    assert row["fix"] == "set IVR_AUDIO_MODE=stream"
    port = free_port()
    env.setenv("IVR_AUDIO_MODE", "stream")
    env.setenv("IVR_AUDIO_STREAM_PORT", str(port))
    env.setenv("IVR_FREESWITCH_INBOUND", f"127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    _, rows = run_doctor()
    row = rows["agent leg qa"]  # nothing listens where the switch would fork agent legs to
    assert row["status"] == "FAIL"
    assert f"ws://127.0.0.1:{port}/audio/" in row["detail"] and row["fix"].startswith("make run")
    with socket.create_server(("127.0.0.1", port)):
        _, rows = run_doctor()
        row = rows["agent leg qa"]
        assert row["status"] == "OK" and "bridge-agent-start" in row["detail"]
        env.setenv("IVR_FREESWITCH_INBOUND", "192.0.2.10:8021")  # a switch on another host
        get_settings.cache_clear()
        _, rows = run_doctor()
        row = rows["agent leg qa"]  # told to fork to this host's loopback: it cannot
        assert row["status"] == "WARN" and "cannot reach" in row["detail"]
        assert "IVR_AUDIO_STREAM_HOST" in row["fix"]
    env.setenv("IVR_QA_CALLS", "false")
    get_settings.cache_clear()
    _, rows = run_doctor()
    assert rows["agent leg qa"]["status"] == "WARN"
    assert "IVR_QA_CALLS=false" in rows["agent leg qa"]["detail"]
