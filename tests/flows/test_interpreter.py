"""The flow interpreter walks the shipped flows branch by branch (pure, no telephony)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flows.interpreter import (
    AskConsent,
    BotOutcome,
    CallWebhook,
    ConsentAnswer,
    Converse,
    Digits,
    Done,
    FlowRun,
    Gather,
    HangupCall,
    Instruction,
    NoInput,
    OpenCallbackTicket,
    Played,
    Speak,
    TransferCall,
    TransferOutcome,
    Utterance,
    WebhookResult,
    render,
)
from flows.registry import FlowRegistry
from ivr.errors import LocalProtocolError

REGISTRY = FlowRegistry()
DAY = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai
NIGHT = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
VARS = {"institution": "测试银行", "bot_id": "AI-7", "call_id": "c1", "caller_index": "x"}


def run(name: str, **kwargs: object) -> FlowRun:
    version = REGISTRY.get(name)
    return FlowRun(version.flow, version.prompts, VARS, **kwargs)  # type: ignore[arg-type]


def drive(
    flow: FlowRun, answers: dict[type, list[object]], now: datetime = DAY
) -> list[Instruction]:
    """Run to the end, answering each instruction type from ``answers`` (Played by default)."""
    trace: list[Instruction] = []
    instruction: Instruction | None = flow.start(now)
    while instruction is not None:
        trace.append(instruction)
        queue = answers.get(type(instruction))
        result = queue.pop(0) if queue else (Played() if isinstance(instruction, Speak) else Done())
        instruction = flow.resume(result, now)  # type: ignore[arg-type]
    return trace


def kinds(trace: list[Instruction]) -> list[str]:
    return [type(i).__name__ for i in trace]


def test_inv4_every_shipped_flow_starts_with_the_non_interruptible_disclosure() -> None:
    for name in ("inbound_service", "outbound_marketing", "outbound_notice"):
        first = run(name).start(DAY)
        assert isinstance(first, Speak)
        assert first.kind == "disclosure" and first.barge_in is False
        assert first.text is not None and "测试银行" in first.text and "AI-7" in first.text


def test_inv5_marketing_consent_granted_then_pitch_with_risk_warning() -> None:
    trace = drive(
        run("outbound_marketing"),
        {AskConsent: [ConsentAnswer("granted")], Converse: [BotOutcome("hangup")]},
    )
    speaks = [i for i in trace if isinstance(i, Speak)]
    assert [s.prompt_id for s in speaks] == ["disclosure", "pitch", "risk_warning"]
    assert speaks[1].kind == "marketing"
    assert speaks[2].barge_in is False and "理财有风险" in (speaks[2].text or "")
    assert isinstance(trace[-1], HangupCall) and trace[-1].node == "questions"


def test_inv5_refusal_never_reaches_marketing() -> None:
    trace = drive(run("outbound_marketing"), {AskConsent: [ConsentAnswer("refused")]})
    assert all(getattr(i, "kind", "") != "marketing" for i in trace)
    assert isinstance(trace[-1], HangupCall) and trace[-1].node == "refused"


def test_consent_no_answer_closes_without_marketing() -> None:
    trace = drive(run("outbound_marketing"), {AskConsent: [ConsentAnswer("no_answer")]})
    assert kinds(trace) == ["Speak", "AskConsent", "HangupCall"]
    assert trace[-1].node == "no_answer"


def test_runtime_guard_refuses_marketing_without_consent() -> None:
    flow = run("outbound_marketing")
    with pytest.raises(LocalProtocolError, match="before consent"):
        flow._speak("pitch", "pitch", None, "marketing")


def test_consent_on_file_allows_marketing_prompt() -> None:
    speak = run("outbound_marketing", consent_on_file=True)._speak("pitch", "pitch", None, "prompt")
    assert speak.kind == "marketing"


def test_inbound_menu_digit_one_goes_to_account_then_bot() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {"risk_level": "low"})],
            Gather: [Digits("1")],
            Converse: [BotOutcome("hangup")],
        },
    )
    assert [i.node for i in trace] == [
        "disclosure",
        "risk_check",
        "menu",
        "account",
        "assistant",
        "assistant",
    ]


def test_inbound_high_risk_from_crm_goes_to_senior_with_priority() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {"risk_level": "high"})],
            TransferCall: [TransferOutcome(True)],
        },
    )
    transfer = trace[-1]
    assert isinstance(transfer, TransferCall)
    assert (transfer.queue, transfer.priority) == ("senior", 9)


def test_inbound_webhook_failure_takes_the_default_branch_to_the_menu() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(False)],
            Gather: [Digits("0")],
            TransferCall: [TransferOutcome(True)],
        },
    )
    assert [i.node for i in trace][-2:] == ["menu", "general"]


def test_inv7_spoken_complaint_in_menu_goes_to_senior() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {})],
            Gather: [Utterance("我要投诉你们", "complaint")],
            TransferCall: [TransferOutcome(True)],
        },
    )
    assert isinstance(trace[-1], TransferCall) and trace[-1].queue == "senior"


def test_inv7_no_agent_free_gives_a_callback_ticket_not_a_dropped_call() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {"risk_level": "critical"})],
            TransferCall: [TransferOutcome(False)],
        },
    )
    assert kinds(trace)[-2:] == ["OpenCallbackTicket", "HangupCall"]
    assert isinstance(trace[-2], OpenCallbackTicket)
    # a high-risk caller no senior agent could take stays with the senior team (and its SLA)
    assert trace[-2].queue == "senior"


def test_no_general_agent_free_gives_a_general_ticket() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {})],
            Gather: [Digits("0")],
            TransferCall: [TransferOutcome(False)],
        },
    )
    ticket = next(i for i in trace if isinstance(i, OpenCallbackTicket))
    assert ticket.queue == "general"


def test_menu_retries_then_fails_over_to_a_human() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {})],
            Gather: [NoInput(), Digits("9"), NoInput()],
            TransferCall: [TransferOutcome(True)],
        },
    )
    retry_prompts = [i.prompt_id for i in trace if isinstance(i, Speak) and i.node == "menu"]
    assert retry_prompts == ["no_input", "invalid_input"]
    assert [i for i in trace if isinstance(i, Gather)].__len__() == 3
    assert isinstance(trace[-1], TransferCall) and trace[-1].queue == "general"


def test_human_request_out_of_hours_gets_closed_notice_and_ticket() -> None:
    trace = drive(
        run("inbound_service"),
        {CallWebhook: [WebhookResult(True, {})], Gather: [Digits("0")]},
        now=NIGHT,
    )
    assert [i.node for i in trace][-3:] == ["closed", "ticket", "goodbye"]


def test_bot_failure_falls_back_to_a_human() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {})],
            Gather: [Digits("2")],
            Converse: [BotOutcome("failure")],
            TransferCall: [TransferOutcome(True)],
        },
    )
    assert isinstance(trace[-1], TransferCall) and trace[-1].node == "general"


def test_bot_transfer_directive_is_executed_with_its_queue() -> None:
    trace = drive(
        run("inbound_service"),
        {
            CallWebhook: [WebhookResult(True, {})],
            Gather: [Digits("2")],
            Converse: [BotOutcome("transfer", "senior", 9, "complaint")],
            TransferCall: [TransferOutcome(True)],
        },
    )
    assert isinstance(trace[-1], TransferCall)
    assert (trace[-1].queue, trace[-1].priority, trace[-1].reason) == ("senior", 9, "complaint")


def test_notice_flow_has_no_consent_and_no_marketing() -> None:
    trace = drive(run("outbound_notice"), {Gather: [Digits("1"), NoInput()]})
    assert not any(isinstance(i, AskConsent) for i in trace)
    assert all(getattr(i, "kind", "") != "marketing" for i in trace)
    assert [i.node for i in trace] == ["disclosure", "notice", "notice_again", "goodbye"]


def test_render_fills_known_placeholders_only() -> None:
    assert render("{a}-{b}", {"a": 1}) == "1-{b}"
