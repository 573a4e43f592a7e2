"""`ivr qa ...`: the operator's view of the matcher, and QA of stored calls (authenticated)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_support import token_for
from typer.testing import CliRunner

from console.permissions import Role
from ivr.db import make_engine, migrate
from ivr.settings import get_settings
from records.vault import Vault
from shell.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_check_flags_a_slip_and_names_the_rules_version() -> None:
    code, out = run("qa", "check", "这款产品宝本，零分险", "--json")
    data = json.loads(out)
    assert code == 0 and data["flagged"]
    assert [h["rule"] for h in data["hits"]] == ["promise_principal", "promise_no_risk"]
    assert data["rules_version"]


def test_check_leaves_the_mandated_wording_alone() -> None:
    code, out = run("qa", "check", "本产品不保本不保收益，业绩比较基准不代表实际收益")
    assert code == 0 and out.startswith("clean")


def test_check_as_the_bot_shows_the_fallback() -> None:
    code, out = run("qa", "check", "--speaker", "bot", "稳赚不赔")
    assert code == 0 and "the bot would say instead" in out


def test_rules_reports_a_bad_file_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "qa.yaml"
    bad.write_text("version: x\neffective_from: 2026-01-01T00:00:00+08:00\nrules: 3\n")
    code, out = run("qa", "rules", str(bad))
    assert code == 1
    code, out = run("qa", "rules")
    assert code == 0 and "valid" in out


@pytest.mark.slow
def test_batch_call_and_report_on_a_stored_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from test_qa_postcall import START, ingest

    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    try:
        settings = get_settings()
        migrate(settings.sqlalchemy_url)
        vault = Vault.from_settings(settings, make_engine(settings.sqlalchemy_url))
        ingest(vault, tmp_path, "call-cli", START)
        monkeypatch.setenv("IVR_TOKEN", token_for("olga", Role.COMPLIANCE_OFFICER))
        window = ["--from", "2026-11-30T00:00:00+08:00", "--to", "2026-12-01T00:00:00+08:00"]
        code, out = run("qa", "batch", *window, "--json")
        assert code == 0, out
        assert json.loads(out)["done"] == 1
        code, out = run("qa", "batch", *window, "--json")  # finished: a new, empty-handed job
        assert code == 0 and json.loads(out)["total"] == 1
        code, out = run("qa", "call", "call-cli", "--json")
        (result,) = json.loads(out)
        assert code == 0 and result["source"] == "recording" and not result["passed"]
        assert any(f["speaker"] == "agent" and f["kind"] == "hit" for f in result["findings"])
        pdf = tmp_path / "r.pdf"
        code, out = run(
            "qa",
            "report",
            "--from",
            "2026-11-30",
            "--to",
            "2026-12-01",
            "--format",
            "pdf",
            "--out",
            str(pdf),
            "--json",
        )
        assert code == 0 and json.loads(out)["calls"] == 1
        assert pdf.read_bytes().startswith(b"%PDF")
        code, out = run(
            "qa",
            "report",
            "--from",
            "2026-11-30",
            "--to",
            "2026-12-01",
            "--period",
            "week",
            "--out",
            str(tmp_path / "r.html"),
        )
        assert code == 0 and "1 calls" in out
    finally:
        get_settings.cache_clear()


def test_qa_of_stored_calls_authenticates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("IVR_TOKEN", raising=False)
    get_settings.cache_clear()
    try:
        code, out = run("qa", "call", "any-call", "--json")
        assert code == 4 and "not mapped" in out  # nobody signed in
        agent = token_for("alan", Role.AGENT)
        code, out = run("qa", "report", "--from", "2026-11-30", "--to", "2026-12-01",
                        "--token", agent)  # fmt: skip
        assert code == 4 and "qa.reports" in out
    finally:
        get_settings.cache_clear()
