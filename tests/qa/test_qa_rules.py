"""QA rules as versioned data (inv13): file:line errors, self-checked examples, hot reload."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from compliance.rules import RulesError
from qa.compiled import compile_rules
from qa.reload import DEFAULT_RULES_PATH, QaRulesHolder, QaRulesWatcher, load_rules_file

HEAD = """version: "t1"
effective_from: 2026-01-01T00:00:00+08:00
bot_fallback: 好的
negation:
  cues: {不: 2}
rules:
"""


def issue_lines(text: str) -> list[tuple[int | None, str]]:
    with pytest.raises(RulesError) as err:
        compile_rules(text, "r.yaml")
    return [(i.line, i.why) for i in err.value.issues]


def test_inv13_a_bad_regex_names_its_line() -> None:
    text = (
        HEAD
        + "  - id: x\n    category: pressure_tactic\n    patterns:\n"
        + "      - ok\n      - '(unclosed'\n    anchors: [ok]\n"
    )
    assert (
        11,
        "bad regular expression: missing ), unterminated subpattern at position 0",
    ) in issue_lines(text)


def test_inv13_an_unknown_category_names_its_line() -> None:
    text = HEAD + "  - id: x\n    category: bragging\n    phrases: [保本]\n"
    assert any(line == 8 and "prohibited_promise" in why for line, why in issue_lines(text))


def test_inv13_a_rule_breaking_its_own_example_is_rejected() -> None:
    text = HEAD + (
        "  - id: x\n    category: prohibited_promise\n    phrases: [保本]\n"
        "    examples:\n      clean: [这个产品保本]\n"
    )
    ((line, why),) = issue_lines(text)
    assert line == 11 and "flags its own clean example" in why


def test_inv13_pattern_rules_need_anchors_and_yaml_errors_have_lines() -> None:
    issues = issue_lines(HEAD + "  - id: x\n    category: pressure_tactic\n    patterns: [a]\n")
    assert any(line == 7 and "anchors" in why for line, why in issues)
    ((line, _),) = issue_lines(HEAD + "  - id: [x\n")
    assert line is not None


CLASSES = """classes:
  CERTAIN: [保证, 肯定]
  GAIN: [赚钱, 翻倍]
"""


def test_a_concept_class_stands_for_each_of_its_wordings_in_patterns_and_anchors() -> None:
    text = (
        CLASSES
        + HEAD
        + (
            "  - id: x\n    category: prohibited_promise\n"
            "    patterns: ['{CERTAIN}能{GAIN}']\n    anchors: ['{CERTAIN}']\n"
        )
    )
    compiled = compile_rules(text, "r.yaml")
    for said in ("这个保证能赚钱", "这个肯定能翻倍", "这个啃定能翻倍"):  # 啃定: an ASR slip
        assert [h.rule_id for h in compiled.matcher.scan(said)] == ["x"], said
    assert compiled.matcher.scan("这个肯定能到账") == ()
    assert compiled.matcher.scan("这个不保证能赚钱") == ()  # negation handled as for any pattern


def test_an_unknown_concept_class_names_its_line() -> None:
    text = (
        CLASSES
        + HEAD
        + (
            "  - id: x\n    category: prohibited_promise\n"
            "    patterns: ['{CERTAIN}能{PROFIT}']\n    anchors: ['{MONEY}']\n"
        )
    )
    issues = issue_lines(text)
    assert (12, "unknown concept class PROFIT (not in classes)") in issues
    assert (13, "unknown concept class MONEY (not in classes)") in issues


def test_the_shipped_rules_are_valid() -> None:
    compiled = load_rules_file(DEFAULT_RULES_PATH)
    assert compiled.version and compiled.rules.mandatory.purposes["marketing"]


async def test_inv13_hot_reload_installs_valid_and_keeps_the_old_on_bad(tmp_path: Path) -> None:
    path = tmp_path / "qa.yaml"
    good = HEAD + "  - id: x\n    category: prohibited_promise\n    phrases: [保本]\n"
    path.write_text(good, encoding="utf-8")
    holder = QaRulesHolder(load_rules_file(path))
    watcher = QaRulesWatcher(path, holder)
    path.write_text(good.replace('"t1"', '"t2"').replace("[保本]", "[零风险]"), encoding="utf-8")
    os.utime(path, ns=(1, 1))
    assert await watcher.check_once() is not None
    assert holder.current.version == "t2"
    assert holder.current.matcher.scan("零风险") and not holder.current.matcher.scan("保本")
    bad = good.replace('"t1"', '"t3"').replace(
        "phrases: [保本]", "patterns: ['(']\n    anchors: [x]"
    )
    path.write_text(bad, encoding="utf-8")
    os.utime(path, ns=(2, 2))
    assert await watcher.check_once() is None
    assert watcher.last_error is not None and holder.current.version == "t2"
    path.write_text(good.replace("[保本]", "[稳赚不赔]"), encoding="utf-8")  # t1, other text
    os.utime(path, ns=(3, 3))
    assert await watcher.check_once() is None and "already loaded" in str(watcher.last_error)
    assert holder.at(datetime(2020, 1, 1, tzinfo=UTC)).version == "t1"
