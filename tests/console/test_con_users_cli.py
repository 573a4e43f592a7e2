"""`ivr users ...`: every command authenticates (token or mapped OS user) and consults the one
permission table; no self-declared role; changes and refusals are evidence with the actor."""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from console_support import PASSWORD
from typer.testing import CliRunner

from console import cli
from console.audit import AuditKind
from console.context import build_context
from console.permissions import Role
from ivr.settings import get_settings
from records.evidence_store import SqlEvidenceLog


@pytest.fixture
def app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[typer.Typer]:
    monkeypatch.setenv("IVR_DATABASE_URL", f"sqlite:///{tmp_path / 'ivr.db'}")
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_TOKEN", raising=False)
    get_settings.cache_clear()
    application = typer.Typer()
    cli.register(application)
    yield application
    get_settings.cache_clear()


def run(app: typer.Typer, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["users", *args])
    return result.exit_code, result.output


def evidence_kinds() -> list[tuple[str, dict[str, object]]]:
    log = SqlEvidenceLog.from_settings(get_settings())
    return [(e.kind, dict(e.payload)) for e in log.entries()]


def test_first_admin_then_token_then_managed_users(app: typer.Typer) -> None:
    code, out = run(app, "init")
    assert code == 0 and "first admin 'admin'" in out
    password = out.split("with password ")[1].split()[0]
    assert run(app, "init")[0] == 2  # only once

    code, out = run(app, "token", "admin", "--password", password, "--json")
    assert code == 0
    token = json.loads(out)["access_token"]

    code, out = run(
        app, "add", "olga", "--role", "compliance_officer", "--password", PASSWORD, "--token", token
    )
    assert code == 0, out
    code, out = run(app, "role", "olga", "auditor", "--token", token, "--json")
    assert json.loads(out)["role"] == "auditor"
    code, out = run(app, "disable", "olga", "--token", token, "--json")
    assert json.loads(out)["disabled"] is True
    code, out = run(app, "passwd", "olga", "--password", "another long one", "--token", token)
    assert code == 0
    code, out = run(
        app, "add", "cara", "--role", "campaign_manager", "--password", PASSWORD, "--token", token
    )
    assert code == 0, out
    code, out = run(app, "role", "cara", "campaign_manager", "--token", token, "--json")
    assert json.loads(out)["role"] == "campaign_manager"
    changes = [p for k, p in evidence_kinds() if k == AuditKind.USER_CHANGED]
    assert [p["change"] for p in changes] == [
        "added", "added", "role", "disabled", "password", "added", "role"
    ]  # fmt: skip
    assert all(p["actor"] == "admin" for p in changes[1:])


def test_without_authentication_nothing_is_changed(app: typer.Typer) -> None:
    run(app, "init")
    code, out = run(app, "add", "mallory", "--role", "admin", "--password", PASSWORD)
    assert code == 4 and "not mapped to a console user" in out
    code, out = run(
        app, "add", "mallory", "--role", "admin", "--password", PASSWORD, "--token", "forged"
    )
    assert code == 4
    assert build_context(get_settings()).auth.users.by_username("mallory") is None


def test_a_mapped_os_user_acts_with_its_role_and_refusals_are_evidence(app: typer.Typer) -> None:
    ctx = build_context(get_settings())
    ctx.auth.add_user(None, "ops", Role.AGENT, PASSWORD, os_user=getpass.getuser())
    code, out = run(app, "add", "eve", "--role", "admin", "--password", PASSWORD)
    assert code == 4 and "may not users.manage" in out
    denied = [p for k, p in evidence_kinds() if k == AuditKind.ACCESS_DENIED]
    assert denied[-1]["actor"] == "ops" and denied[-1]["permission"] == "users.manage"
    ctx.auth.set_role(None, "ops", Role.ADMIN)
    code, out = run(app, "add", "eve", "--role", "designer", "--password", PASSWORD)
    assert code == 0, out
