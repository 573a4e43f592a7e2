"""`ivr dnc ...` / `ivr consent ...`: every change made by an officer is chained evidence (inv3)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cli_support import token_for
from helpers.numbers import fresh_number
from typer.testing import CliRunner

from console.permissions import Role
from ivr.db import make_engine
from ivr.settings import get_settings
from records.evidence_store import SqlEvidenceLog
from shell.cli import app


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.delenv("IVR_REDIS_URL", raising=False)
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def ivr(*args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_inv3_dnc_remove_from_the_cli_writes_chained_evidence_that_verifies(
    data_dir: Path,
) -> None:
    number = fresh_number()
    agent, alice = token_for("agent-7", Role.AGENT), token_for("alice", Role.COMPLIANCE_OFFICER)
    ivr("dnc", "add", number, "--reason", "客户来电要求", "--token", agent)
    ivr("consent", "grant", number, "--purpose", "marketing", "--scope", "s", "--channel", "app",
        "--token", agent)  # fmt: skip
    ivr("consent", "revoke", number, "--purpose", "marketing", "--channel", "app", "--reason", "r",
        "--token", agent)  # fmt: skip
    refused = CliRunner().invoke(app, ["dnc", "remove", number, "--reason", "x", "--token", agent])
    assert refused.exit_code == 4  # an agent may not remove: the permission table says so
    removed = ivr("dnc", "remove", number, "--reason", "误登记，已核实", "--token", alice)
    assert removed["removed"] is True

    engine = make_engine(get_settings().sqlalchemy_url)
    entries = list(SqlEvidenceLog(engine).entries())
    engine.dispose()
    entries = [e for e in entries if not e.kind.startswith("console_")]  # users, the refusal
    kinds = [e.kind for e in entries]
    assert kinds == ["dnc_added", "consent_granted", "consent_revoked", "dnc_removed"]
    assert dict(entries[0].payload)["actor"] == "agent-7"
    removal = dict(entries[-1].payload)
    assert removal["actor"] == "alice" and removal["actor_role"] == "compliance_officer"
    assert removal["reason"] == "误登记，已核实"
    assert all(number[3:] not in json.dumps(dict(e.payload)) for e in entries)

    verified = ivr("evidence", "verify")
    checked = verified["checked"]
    assert verified["ok"] is True and isinstance(checked, int) and checked >= len(entries)


def test_a_bad_number_typed_by_an_officer_is_a_clear_error(data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["dnc", "add", "12", "--reason", "r"])
    assert result.exit_code == 2
    assert "invalid phone number" in result.output


def test_read_only_commands_that_show_customer_data_authenticate(data_dir: Path) -> None:
    """dnc check, consent list and gate check read customer data: an unauthenticated caller
    is refused, a role without the permission too; a permitted one sees masked numbers."""
    number = fresh_number()
    auditor = token_for("audrey", Role.AUDITOR)
    designer = token_for("dora", Role.DESIGNER)
    for args in (
        ["dnc", "check", number],
        ["consent", "list", number],
        ["gate", "check", number, "--purpose", "service"],
    ):
        anonymous = CliRunner().invoke(app, [*args, "--json"], env={"IVR_TOKEN": ""})
        assert anonymous.exit_code != 0 and number not in anonymous.output
    assert CliRunner().invoke(app, ["consent", "list", number, "--token", designer]).exit_code == 4
    checked = ivr("dnc", "check", number, "--token", auditor)
    assert checked["dnc"] is False and checked["number"] != number
    assert ivr("consent", "list", number, "--token", auditor) == []
