"""QA's learned second stage (qa/model.py, qa/second_stage.py): the shipped model loads and
scores, a line the rules miss becomes a finding of kind ``model`` with the model's version and
score, a model hit never blocks a bot sentence, and negated or mandated wording is no model hit
(the context veto of the rules applies to it)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa.calls import FindingKind, Turn, inspect_call
from qa.compiled import CompiledRules
from qa.model import DEFAULT_MODEL_PATH, ModelError, QaModel, load_model
from qa.reload import DEFAULT_RULES_PATH, load_rules_file
from qa.rules import Category, Speaker
from qa.verdict import SpeechContext, check_bot_sentence

ROOT = Path(__file__).resolve().parents[2]

# the rules do not flag it (an unseen wording family), the model does
MISSED_PROMISE = "咱们这个年金计划到期您放进去的都能拿回来，还有额外的搜益。"
# the model scores it above the threshold, but the wording is negated: vetoed like a rule match
NEGATED = "这个理财到期不能保证拿回本金和收益。"


@pytest.fixture(scope="module")
def model() -> QaModel:
    return load_model(DEFAULT_MODEL_PATH)


@pytest.fixture(scope="module")
def both(model: QaModel) -> CompiledRules:
    return load_rules_file(DEFAULT_RULES_PATH, model)


def test_the_shipped_model_loads_and_scores(model: QaModel) -> None:
    assert model.version.startswith("qa-model-")
    assert set(model.thresholds) == set(Category)
    assert all(0.5 <= t < 1.0 for t in model.thresholds.values())
    scored = model.score(MISSED_PROMISE)
    assert scored.probabilities[Category.PROHIBITED_PROMISE] >= 0.9
    assert scored.probabilities[Category.PRESSURE_TACTIC] < 0.5
    # pressure by sound: an ASR slip (名额 heard as 明额) scores as what was meant
    meant = model.score("名额只剩最后两个了，今天不定就没了。").probabilities
    slipped = model.score("明额只剩最后两个了，今天不定就没了。").probabilities
    assert meant[Category.PRESSURE_TACTIC] >= model.thresholds[Category.PRESSURE_TACTIC]
    assert slipped[Category.PRESSURE_TACTIC] >= model.thresholds[Category.PRESSURE_TACTIC]
    # routine service talk does not pass the gate: not scored at all
    assert model.score("您的银行卡已经挂失成功，新卡七个工作日寄到。").probabilities == {}
    assert model.score("").probabilities == {}


def test_a_bad_artefact_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "m.json"
    bad.write_text(json.dumps({"version": "x"}), encoding="utf-8")
    with pytest.raises(ModelError):
        load_model(bad)
    with pytest.raises(ModelError):
        load_model(tmp_path / "missing.json")


def test_a_line_the_rules_miss_becomes_a_model_finding(both: CompiledRules) -> None:
    assert both.matcher.scan(MISSED_PROMISE, Speaker.AGENT) == ()
    line = both.check(MISSED_PROMISE, Speaker.AGENT)
    assert line.hits == ()
    [hit] = line.model_hits
    assert hit.category is Category.PROHIBITED_PROMISE
    assert hit.model_version == both.model_version
    assert hit.phrase == MISSED_PROMISE
    assert hit.score >= both.stage.model.thresholds[hit.category]  # type: ignore[union-attr]
    turns = [
        Turn(Speaker.AGENT, "您好，我是客户经理小王。", 0, 2_000),
        Turn(Speaker.AGENT, MISSED_PROMISE, 2_000, 6_000),
    ]
    qa = inspect_call(turns, SpeechContext("call-model-1"), both)
    assert qa.model_version == both.model_version
    assert qa.as_dict()["model_version"] == both.model_version
    [finding] = [f for f in qa.findings if f.kind is FindingKind.MODEL]
    assert finding.rule == both.model_version
    assert finding.category == "prohibited_promise"
    assert finding.phrase == MISSED_PROMISE
    assert finding.turn == 1 and finding.offset_ms == 2_000
    assert finding.how.startswith("p=") and float(finding.how[2:]) >= 0.9
    # a guess for review: it costs no points
    rules_only = inspect_call(
        turns, SpeechContext("call-model-1"), load_rules_file(DEFAULT_RULES_PATH)
    )
    assert qa.score == rules_only.score
    assert rules_only.model_version is None
    assert not [f for f in rules_only.findings if f.kind is FindingKind.MODEL]


def test_rule_hits_stay_and_the_model_adds_only_other_categories(both: CompiledRules) -> None:
    text = "这款产品到期本金和收益一分不少，您放心买。"
    line = both.check(text, Speaker.AGENT)
    assert {h.category for h in line.hits} == {Category.PROHIBITED_PROMISE}
    assert all(m.category is not Category.PROHIBITED_PROMISE for m in line.model_hits)
    assert line.rules_version == both.version and line.model_version == both.model_version


def test_a_model_hit_never_blocks_a_bot_sentence(both: CompiledRules) -> None:
    assert both.check(MISSED_PROMISE, Speaker.BOT).model_hits  # it flags
    verdict = check_bot_sentence(MISSED_PROMISE, SpeechContext("call-model-2"), both)
    assert verdict.allowed and verdict.speak == MISSED_PROMISE  # it does not silence the bot
    qa = inspect_call(
        [Turn(Speaker.BOT, MISSED_PROMISE, 0, 3_000)], SpeechContext("call-model-2"), both
    )
    assert [f.kind for f in qa.findings if f.kind is not FindingKind.MISSING] == [FindingKind.MODEL]


def test_negated_and_mandated_wording_is_no_model_hit(both: CompiledRules) -> None:
    model = both.stage.model  # type: ignore[union-attr]
    # scored above the threshold, yet negated: vetoed the way a rule match is
    p = model.score(NEGATED).probabilities[Category.PROHIBITED_PROMISE]
    assert p >= model.thresholds[Category.PROHIBITED_PROMISE]
    assert both.check(NEGATED, Speaker.AGENT).model_hits == ()
    for text in (
        "我们不能承诺这个理财到期肯定能拿回本金还有收益。",
        "您是问这个理财到期能不能拿回本金吗？",
        "理财有风险，投资需谨慎。",
        "理财非存款，产品有风险，投资须谨慎，过往业绩不代表未来表现。",
    ):
        assert both.check(text, Speaker.AGENT).categories == frozenset(), text


def test_the_model_is_what_the_training_script_writes() -> None:
    """The committed artefact is reproducible: a retrain writes the same model (weights to 1e-4)."""
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_qa_model.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]


def test_the_reproducibility_check_tolerates_rounding_only() -> None:
    """A weight's last rounded digit may differ between BLAS builds; a real change may not pass."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "train_qa_model", ROOT / "scripts" / "train_qa_model.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    committed = json.loads(DEFAULT_MODEL_PATH.read_text(encoding="utf-8"))
    feature = next(iter(committed["features"]))

    def with_weight(delta: float) -> object:
        changed = json.loads(json.dumps(committed))
        changed["features"][feature][1] += delta
        return changed

    assert script.same_model(committed, with_weight(1e-5))
    assert not script.same_model(committed, with_weight(0.01))
    dropped = json.loads(json.dumps(committed))
    del dropped["features"][feature]
    assert not script.same_model(committed, dropped)
    moved = json.loads(json.dumps(committed))
    moved["thresholds"] = {k: 0.5 for k in committed["thresholds"]}
    assert not script.same_model(committed, moved)
