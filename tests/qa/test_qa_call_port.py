"""The call composition root's QA (``qa.service.build_call_qa``): explicit choices, said so."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from flows.ports import InspectedCall, SpokenTurn
from ivr.db import make_engine, migrate
from ivr.settings import Settings
from qa.alerts import LoggedAlerts
from qa.call_port import CallInspection, QaOff
from qa.compiled import CompiledRules
from qa.rules import Speaker
from qa.service import build_call_qa
from records.evidence_store import SqlEvidenceLog

CALL = InspectedCall("call-port-1", "marketing", "f", None, "AI-7", "测试银行")


def settings(tmp_path: Path, **extra: object) -> Settings:
    url = f"sqlite:///{tmp_path / 'ivr.db'}"
    migrate(url)
    return Settings(data_dir=tmp_path, database_url=url, redis_url=None, **extra)  # type: ignore[arg-type]


async def test_qa_switched_off_is_an_explicit_logged_choice(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    s = settings(tmp_path, qa_calls=False)
    engine = make_engine(s.sqlalchemy_url)
    with caplog.at_level(logging.WARNING):
        qa = await build_call_qa(s, SqlEvidenceLog(engine), engine)
    assert isinstance(qa, QaOff)
    assert "QA of calls is OFF" in caplog.text
    assert qa.vet_bot_sentence(CALL, "保本保收益", "reply", 0) == "保本保收益"


async def test_without_redis_alerts_are_logged_and_the_gate_still_blocks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, shipped: CompiledRules
) -> None:
    s = settings(tmp_path)
    engine = make_engine(s.sqlalchemy_url)
    with caplog.at_level(logging.WARNING):
        qa = await build_call_qa(s, SqlEvidenceLog(engine), engine)
    try:
        assert isinstance(qa, CallInspection)
        assert "alerts are logged, not streamed" in caplog.text
        spoken = qa.vet_bot_sentence(CALL, "这款产品保本保收益。", "reply", 1200)
        assert spoken == shipped.rules.bot_fallback
        qa.heard(CALL, SpokenTurn("agent", "这个稳赚不赔", 3000, 4000))
        qa.heard(CALL, SpokenTurn("caller", "你们保本吗", 5000, 6000))  # callers never alert
        await qa.hooks.drain()
        assert qa.hooks.published == 3  # the blocked sentence's two hits, the agent's one
        sink = qa._alerts
        assert isinstance(sink, LoggedAlerts) and sink.count == 3
        assert "保本" not in caplog.text  # rule ids in the log, never the words
    finally:
        await qa.aclose()


def test_no_shipped_prompt_is_blocked_by_the_bot_gate(
    tmp_path: Path, shipped: CompiledRules
) -> None:
    """The gate vets every prompt, the disclosure and the risk warning included: a rules
    change that would replace a shipped mandated statement by the fallback fails here."""
    from flows.app import static_prompt_texts
    from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry

    texts = static_prompt_texts(FlowRegistry(DEFAULT_FLOWS_DIR), settings(tmp_path))
    assert len(texts) > 10
    blocked = {t: shipped.matcher.scan(t, Speaker.BOT) for t in texts}
    assert {t: h for t, h in blocked.items() if h} == {}
