"""``ivr campaign ...`` (issue 14 item 6): create, import with per-row errors, start, pause,
resume, stop, status and export with masked numbers, each with ``--json``; bad input is a clear
error and writes nothing; changes need ``campaigns.manage``."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from camp_support import fresh_numbers
from typer.testing import CliRunner

from console.auth.service import build_auth_service
from console.permissions import Role
from ivr.db import migrate
from ivr.settings import get_settings
from shell.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.delenv("IVR_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def token_for(name: str, role: Role) -> str:
    settings = get_settings()
    migrate(settings.sqlalchemy_url)
    auth = build_auth_service(settings)
    user = auth.users.by_username(name) or auth.add_user(None, name, role, "a long password")
    return auth.tokens.issue(user.id, user.role.value, user.token_version, datetime.now(UTC))


def ivr(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == code, result.output
    return json.loads(result.stdout) if code == 0 else {"stderr": result.stderr}


CREATE = ("campaign", "create", "spring", "--flow", "outbound_marketing", "--purpose",
          "marketing", "--caller-id", "95588", "--window", "09:00-21:00")  # fmt: skip


def test_campaign_lifecycle_from_the_cli(data_dir: Path) -> None:
    boss = token_for("sup", Role.SUPERVISOR)
    made = ivr(*CREATE, "--token", boss)
    assert made["state"] == "draft" and made["created_by"] == "sup"
    numbers = fresh_numbers(3)
    path = data_dir / "list.csv"
    path.write_text("number,name\n" + "\n".join(f"{n},客户" for n in numbers) + "\nxx,bad\n")
    imported = ivr("campaign", "import", "spring", str(path), "--token", boss)
    assert imported["accepted"] == 3 and imported["errors"] == [
        {
            "row": 5,
            "column": "number",
            "why": "not a valid phone number",
            "code": "list.number_invalid",
            "params": {},
        }
    ]
    assert ivr("campaign", "import", "spring", str(path), "--token", boss)["repeated"]
    assert ivr("campaign", "start", "spring", "--token", boss)["state"] == "running"
    assert ivr("campaign", "pause", "spring", "--token", boss)["state"] == "paused"
    assert ivr("campaign", "resume", "spring", "--token", boss)["state"] == "running"
    status = ivr("campaign", "status", "spring", "--token", boss)
    assert status["contacts"] == 3 and status["counts"]["state:queued"] == 3
    assert ivr("campaign", "stop", "spring", "--token", boss)["state"] == "stopped"
    assert ivr("campaign", "status", "spring", "--token", boss)["counts"] == {
        "state:cancelled": 3,
        "disposition:stopped": 3,
    }
    out = data_dir / "out.csv"
    result = CliRunner().invoke(app, ["campaign", "export", "spring", "--out", str(out),
                                      "--token", boss])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 3 and all("****" in r["number"] for r in rows)
    text = out.read_text()
    assert not any(n in text or n[-8:] in text for n in numbers)  # masked only (inv11)
    assert {r["last_disposition"] for r in rows} == {"stopped"}


@pytest.mark.parametrize(
    ("change", "why"),
    [
        (("--flow", "no_such_flow"), "no flow named"),
        (("--flow", "inbound_service"), "not an outbound flow"),
        (("--purpose", "lottery"), "has no rules"),
        (("--window", "23:00-24:00"), "outside the rules' window"),
        (("--caller-id", "abc"), "caller ID"),
    ],
)
def test_bad_campaigns_are_refused_with_a_clear_error(data_dir: Path, change, why) -> None:
    boss = token_for("sup", Role.SUPERVISOR)
    args = list(CREATE)
    flag = change[0]
    if flag in args and flag != "--caller-id":
        i = args.index(flag)
        args[i + 1] = change[1]
    else:
        args = [a for a in args if a not in ("--caller-id", "95588")] + list(change)
    result = CliRunner().invoke(app, [*args, "--token", boss])
    assert result.exit_code == 2 and why in result.stderr
    assert ivr("campaign", "list", "--token", boss) == []


def test_empty_list_cannot_start_and_agents_cannot_manage(data_dir: Path) -> None:
    boss = token_for("sup", Role.SUPERVISOR)
    ivr(*CREATE, "--token", boss)
    failed = CliRunner().invoke(app, ["campaign", "start", "spring", "--token", boss])
    assert failed.exit_code == 2 and "empty list" in failed.stderr
    agent = token_for("a1", Role.AGENT)
    denied = CliRunner().invoke(app, ["campaign", "stop", "spring", "--token", agent])
    assert denied.exit_code == 4
    assert ivr("campaign", "status", "spring", "--token", boss)["state"] == "draft"
