"""The bot and the IVR flows speak the same filed wording: the disclosure and the risk warning
come from the shared prompt table, and the bot's product script is the flows' pitch."""

from __future__ import annotations

import shutil
from pathlib import Path

from actions.disclosure import SharedPrompts, disclosure_text, risk_warning_text
from actions.scripts import DEFAULT_PRODUCT, product_script
from flows.interpreter import render
from flows.registry import DEFAULT_FLOWS_DIR, PROMPTS_FILE, load_prompt_table


def _table() -> dict[str, str]:
    prompts, issues = load_prompt_table(DEFAULT_FLOWS_DIR / PROMPTS_FILE)
    assert not issues
    return {key: prompt.text for key, prompt in prompts.items() if prompt.text is not None}


def test_risk_warning_is_the_prompt_tables_non_interruptible_warning() -> None:
    assert risk_warning_text() == _table()["risk_warning"] == "理财有风险，投资需谨慎。"


def test_disclosure_names_institution_and_bot_id_in_the_tables_words() -> None:
    text = disclosure_text("测试银行", "AI-0007")
    assert text == render(_table()["disclosure"], {"institution": "测试银行", "bot_id": "AI-0007"})
    assert "测试银行" in text and "AI-0007" in text and "录音" in text


def test_bot_product_script_is_the_flows_pitch() -> None:
    pitch = render(_table()["pitch"], {"product": DEFAULT_PRODUCT.name})
    assert product_script(DEFAULT_PRODUCT) == pitch


def test_a_published_wording_change_reaches_the_bot(tmp_path: Path) -> None:
    """The bot reads the published table (IVR_FLOWS_DIR), not the repository's, and reads it
    again when it changes; a table that became invalid leaves the last valid words."""
    shutil.copy(DEFAULT_FLOWS_DIR / PROMPTS_FILE, tmp_path / PROMPTS_FILE)
    prompts = SharedPrompts(tmp_path / PROMPTS_FILE)
    assert prompts.text("risk_warning") == "理财有风险，投资需谨慎。"
    path = tmp_path / PROMPTS_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "理财有风险，投资需谨慎。", "理财非存款，产品有风险，投资须谨慎。"
        ),
        encoding="utf-8",
    )
    assert prompts.text("risk_warning") == "理财非存款，产品有风险，投资须谨慎。"
    path.write_text("prompts: [not a table\n", encoding="utf-8")
    assert prompts.text("risk_warning") == "理财非存款，产品有风险，投资须谨慎。"
