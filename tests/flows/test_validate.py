"""Flow validation: schema, graph and compliance errors, each with file and line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from flows.cli import SCHEMA_FILE, flow_json_schema
from flows.registry import DEFAULT_FLOWS_DIR, load_prompt_table, validate_path
from flows.validate import validate_text

PROMPTS, _ = load_prompt_table(DEFAULT_FLOWS_DIR / "prompts.yaml")


def check(text: str) -> list[tuple[int, str]]:
    report = validate_text(textwrap.dedent(text), "f.yaml", PROMPTS)
    return [(i.line, i.code) for i in report.issues]


GOOD = """\
flow: demo
direction: outbound
purpose: marketing
start: d
nodes:
  d:
    type: disclosure
    next: c
  c:
    type: consent_gate
    on_granted: pitch
    on_refused: bye
    on_no_answer: bye
  pitch:
    type: play
    prompt: pitch
    next: bye
  bye:
    type: hangup
"""


def test_shipped_flows_are_valid() -> None:
    reports = validate_path(DEFAULT_FLOWS_DIR)
    assert {r.flow.flow for r in reports if r.flow} == {
        "inbound_service",
        "outbound_agent",
        "outbound_marketing",
        "outbound_notice",
    }
    assert all(r.ok for r in reports), [str(i) for r in reports for i in r.issues]


def test_good_flow_has_no_issues() -> None:
    assert check(GOOD) == []


def test_inv5_marketing_reachable_without_consent_is_rejected_at_its_line() -> None:
    text = GOOD.replace("    on_refused: bye", "    on_refused: pitch")
    assert check(text) == [(14, "marketing_without_consent")]


def test_inv4_content_before_disclosure_is_rejected() -> None:
    text = GOOD.replace("start: d", "start: c")
    issues = check(text)
    assert (6, "unreachable") in issues
    assert (9, "content_before_disclosure") in issues
    assert (14, "content_before_disclosure") in issues


def test_marketing_flag_on_the_prompt_counts_too() -> None:
    text = GOOD.replace("    on_granted: pitch\n", "    on_granted: bye\n").replace(
        "    on_no_answer: bye", "    on_no_answer: pitch"
    )
    assert (14, "marketing_without_consent") in check(text)


def test_unknown_target_names_the_edge_line() -> None:
    text = GOOD.replace("    next: bye\n  bye:", "    next: byebye\n  bye:")
    assert check(text) == [(17, "unknown_target")]


def test_unknown_prompt() -> None:
    text = GOOD.replace("prompt: pitch", "prompt: no_such_prompt")
    assert check(text) == [(16, "unknown_prompt")]


def test_loop_without_exit_is_rejected() -> None:
    text = """\
    flow: loop
    direction: inbound
    start: d
    nodes:
      d: {type: disclosure, next: a}
      a: {type: play, prompt: main_menu, next: b}
      b: {type: play, prompt: main_menu, next: a}
    """
    issues = check(text)
    assert (5, "no_exit") in issues and (6, "no_exit") in issues and (7, "no_exit") in issues


def test_schema_error_has_line_and_field() -> None:
    text = GOOD.replace("    type: hangup", "    type: hangup\n    colour: red")
    report = validate_text(text, "f.yaml", PROMPTS)
    assert [(i.line, i.code) for i in report.issues] == [(20, "schema")]
    assert "colour" in report.issues[0].message


def test_yaml_syntax_error_has_line() -> None:
    report = validate_text("flow: x\nnodes: [\n", "f.yaml", PROMPTS)
    assert report.issues[0].code == "yaml"
    assert report.issues[0].line >= 2


def test_duplicate_keys_are_errors() -> None:
    text = GOOD.replace("  bye:\n    type: hangup\n", "  bye:\n    type: hangup\n  bye:\n")
    report = validate_text(text, "f.yaml", PROMPTS)
    assert report.issues[0].code == "yaml" and "duplicate" in str(report.issues[0])


def test_committed_json_schema_matches_the_model() -> None:
    assert json.loads(SCHEMA_FILE.read_text()) == flow_json_schema()


def test_cli_validate_json_reports_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from shell.cli import app

    (tmp_path / "prompts.yaml").write_text((DEFAULT_FLOWS_DIR / "prompts.yaml").read_text())
    (tmp_path / "bad.yaml").write_text(GOOD.replace("on_refused: bye", "on_refused: pitch"))
    result = CliRunner().invoke(app, ["flows", "validate", str(tmp_path), "--json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data[0]["issues"][0]["code"] == "marketing_without_consent"
    assert data[0]["issues"][0]["line"] == 14
