"""The records CLI: `ivr recordings search|fetch`, `ivr evidence verify|checkpoint` (--json)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import typer
from typer.testing import CliRunner

from console.auth.service import build_auth_service
from console.permissions import Role
from ivr.db import make_engine, migrate
from ivr.phone import customer_number
from ivr.settings import get_settings
from records import cli
from records.vault import RecordingMeta, Vault

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def app(sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("IVR_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    application = typer.Typer()
    cli.register(application)
    yield application
    get_settings.cache_clear()


def token_for(role: str) -> str:
    """An access token of a console user with ``role`` (the CLI authenticates, no --role)."""
    settings = get_settings()
    migrate(settings.sqlalchemy_url)
    auth = build_auth_service(settings)
    user = auth.users.by_username(role) or auth.add_user(None, role, Role(role), "a long password")
    return auth.tokens.issue(user.id, user.role.value, user.token_version, datetime.now(UTC))


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout


def seed(tmp_path: Path) -> str:
    vault = Vault.from_settings(get_settings())
    src = tmp_path / "rec.wav"
    src.write_bytes(b"RIFF-audio-bytes")
    info = vault.ingest_sync(
        src,
        RecordingMeta(
            call_id="c1",
            business_type="loan",
            direction="inbound",
            started_at=T0,
            ended_at=T0 + timedelta(seconds=30),
            customer_number=customer_number("13812345678"),
            qa_flags=("complaint",),
        ),
    )
    return info.recording_id


def test_recordings_search_and_fetch(app: typer.Typer, tmp_path: Path) -> None:
    rid = seed(tmp_path)
    code, out = run(
        app,
        "recordings",
        "search",
        "--token",
        token_for("supervisor"),
        "--customer",
        "138-1234-5678",
        "--flag",
        "complaint",
        "--json",
    )
    assert code == 0
    rows = json.loads(out)
    assert [r["recording_id"] for r in rows] == [rid] and rows[0]["customer"] == "138****5678"
    code, out = run(
        app,
        "recordings",
        "search",
        "--token",
        token_for("supervisor"),
        "--business-type",
        "wealth",
    )
    assert code == 0 and "no recordings found" in out
    dest = tmp_path / "got.wav"
    code, out = run(
        app,
        "recordings",
        "fetch",
        rid,
        "--token",
        token_for("compliance_officer"),
        "--reason",
        "complaint 7",
        "--out",
        str(dest),
        "--json",
    )
    assert code == 0 and json.loads(out)["path"] == str(dest)
    assert dest.read_bytes() == b"RIFF-audio-bytes"
    code, _ = run(
        app,
        "recordings",
        "fetch",
        rid,
        "--token",
        token_for("agent"),
        "--reason",
        "x",
        "--out",
        str(tmp_path / "no.wav"),
    )
    assert code == 4 and not (tmp_path / "no.wav").exists()  # refused by the permission table


def test_evidence_verify_and_checkpoint(app: typer.Typer, tmp_path: Path, sqlite_url: str) -> None:
    seed(tmp_path)
    cp_file = tmp_path / "cp.json"
    code, out = run(app, "evidence", "checkpoint", "--out", str(cp_file), "--json")
    assert code == 0 and json.loads(out)["seq"] == 1
    code, out = run(app, "evidence", "verify", "--checkpoint", str(cp_file), "--json")
    assert code == 0 and json.loads(out)["ok"] is True
    engine: sa.Engine = make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER evidence_log_no_delete")
        conn.exec_driver_sql("DELETE FROM evidence_log")
        conn.exec_driver_sql(f"UPDATE evidence_head SET seq = 0, hash = '{'0' * 64}'")
    engine.dispose()
    code, out = run(app, "evidence", "verify", "--json")
    assert code == 0  # an emptied chain is consistent on its own ...
    code, out = run(app, "evidence", "verify", "--checkpoint", str(cp_file), "--json")
    result = json.loads(out)
    assert code == 1 and result["first_bad_seq"] == 1 and "truncated" in result["reason"]
    code, out = run(app, "evidence", "verify", "--checkpoint", str(cp_file))
    assert code == 1 and out.startswith("BROKEN at entry 1")


def test_recordings_search_by_flow_and_reveal_needs_a_reason(
    app: typer.Typer, tmp_path: Path
) -> None:
    rid = seed(tmp_path)
    vault = Vault.from_settings(get_settings())
    src = tmp_path / "anon.wav"
    src.write_bytes(b"RIFF-anonymous")
    vault.ingest_sync(
        src,
        RecordingMeta(
            call_id="anon",
            business_type="service",
            direction="inbound",
            started_at=T0,
            ended_at=T0 + timedelta(seconds=9),
            customer_number=None,
            flow_version="inbound_service@abc",
        ),
    )
    base = ["recordings", "search", "--token", token_for("compliance_officer")]
    code, out = run(app, *base, "--flow", "inbound_service", "--json")
    assert code == 0 and [r["call_id"] for r in json.loads(out)] == ["anon"]
    code, _ = run(app, *base, "--customer", "1000")
    assert code == 1  # not a number: say so instead of matching nothing
    code, _ = run(app, *base, "--call-id", "c1", "--reveal")
    assert code == 1
    code, out = run(app, *base, "--call-id", "c1", "--reveal", "--reason", "complaint 7", "--json")
    assert code == 0 and json.loads(out)[0]["customer"] == "+8613812345678"
    assert [a["reason"] for a in vault.access_log(rid)] == ["complaint 7"]
