"""`ivr qa check` and `ivr qa rules`: the operator's view of the matcher."""

from __future__ import annotations

import json

from typer.testing import CliRunner

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


def test_rules_reports_a_bad_file_with_its_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "qa.yaml"
    bad.write_text("version: x\neffective_from: 2026-01-01T00:00:00+08:00\nrules: 3\n")
    code, out = run("qa", "rules", str(bad))
    assert code == 1
    code, out = run("qa", "rules")
    assert code == 0 and "valid" in out
