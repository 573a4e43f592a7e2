"""End-to-end conversations: the real trained model on the real Rasa server and action server,
against the real compliance stores (SQLite under the action server's IVR_DATA_DIR).

Every marketing turn is checked for invariant 5 by :class:`Conversation.say`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from bot_conversation import (
    Conversation,
    callback,
    compliance_for,
    handles_for,
    hangup,
    is_marketing,
    only,
    transfer,
)
from prometheus_client.parser import text_string_to_metric_families

from actions.disclosure import risk_warning_text
from bot.client import RasaClient
from bot.directives import Hangup, Say, Transfer
from records.evidence_store import SqlEvidenceLog

pytestmark = pytest.mark.rasa

NewCall = Callable[..., Conversation]


@pytest.fixture
async def new_call(rasa_stack: Any) -> AsyncIterator[NewCall]:
    async with (
        RasaClient(rasa_stack.rasa_url, timeout_s=10) as client,
        compliance_for(rasa_stack.settings) as svc,
        handles_for(rasa_stack.settings) as handles,
    ):

        def make(**kwargs: Any) -> Conversation:
            return Conversation(client, svc, handles, **kwargs)

        yield make


def first_is_disclosure(directives: list[Any]) -> None:
    first = directives[0]
    assert isinstance(first, Say) and first.kind == "disclosure" and first.barge_in is False


def consent_question(directives: list[Any]) -> Say:
    asks = [d for d in directives if isinstance(d, Say) and d.kind == "consent"]
    assert len(asks) == 1, f"expected the consent question in {directives}"
    assert "营销" in asks[0].text and "同意" in asks[0].text
    return asks[0]


def assert_pitch(directives: list[Any]) -> None:
    marketing = [d for d in directives if is_marketing(d)]
    warnings = [d for d in directives if isinstance(d, Say) and d.kind == "risk_warning"]
    assert marketing, f"no product script in {directives}"
    assert any(risk_warning_text() in w.text and w.barge_in is False for w in warnings)
    assert directives.index(warnings[0]) > directives.index(marketing[0])


# --- outbound marketing -------------------------------------------------------------------------


async def test_inv5_marketing_consent_then_pitch_with_risk_warning(new_call: NewCall) -> None:
    call = new_call()
    opening = await call.say("喂你好")
    first_is_disclosure(opening)
    consent_question(opening)
    assert not any(is_marketing(d) for d in opening)

    pitch = await call.say("可以 你说吧")
    assert_pitch(pitch)

    records = await call.svc.list_consents(call.customer)
    assert len(records) == 1
    rec = records[0]
    assert rec.purpose == "marketing"
    assert rec.channel == "voice_bot"
    assert rec.scope == "campaign:wealth-q4"
    assert rec.call_id == call.call_id
    assert (
        rec.transcript_excerpt
        and "可以" in rec.transcript_excerpt
        and "营销" in rec.transcript_excerpt
    )
    assert rec.granted_at is not None and rec.expires_at > rec.granted_at
    assert not await call.svc.is_dnc(call.customer)


def evidence_appends(rasa_stack: Any, kind: str) -> float:
    """``ivr_evidence_appends_total{kind}`` as the action server's ``/metrics`` says now."""
    text = httpx.get(rasa_stack.actions_metrics_url, timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "ivr_evidence_appends_total" and sample.labels["kind"] == kind:
                return sample.value
    return 0.0


async def test_inv6_deny_at_consent_question_goes_to_dnc(
    new_call: NewCall, rasa_stack: Any
) -> None:
    before = evidence_appends(rasa_stack, "dnc_added")
    call = new_call()
    await call.say("喂")
    close = await call.say("不需要 谢谢")
    end = hangup(close)
    assert end.outcome == "refused" and end.dnc_recorded is True
    # the action server's own /metrics counted the DNC evidence it chained
    assert evidence_appends(rasa_stack, "dnc_added") == before + 1
    entry = await call.svc.dnc_entry(call.customer)
    assert entry is not None
    assert entry.call_id == call.call_id and entry.source == "voice_bot"
    assert not any(is_marketing(d) for d in call.all)
    assert await call.svc.list_consents(call.customer) == []


async def test_inv6_refusal_in_the_middle_of_the_pitch(new_call: NewCall) -> None:
    call = new_call()
    await call.say("你好")
    assert_pitch(await call.say("好的我听一下"))
    close = await call.say("以后别再给我打电话了 把我号码删掉")
    assert hangup(close).outcome == "refused"
    assert await call.svc.is_dnc(call.customer)
    assert len(await call.svc.list_consents(call.customer)) == 1


async def test_inv6_consent_then_deny_goes_to_dnc(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂 你好")
    await call.say("行 你讲")
    close = await call.say("我不需要 不感兴趣")
    assert hangup(close).dnc_recorded is True
    entry = await call.svc.dnc_entry(call.customer)
    assert entry is not None and entry.reason == "declined_marketing"


async def test_inv4_inv7_complaint_during_the_disclosure(new_call: NewCall) -> None:
    call = new_call()
    turn = await call.say("我要投诉 你们乱扣我的年费")
    first_is_disclosure(turn)
    move = transfer(turn)
    assert (move.queue, move.reason, move.priority) == ("senior", "complaint", 8)
    assert not any(is_marketing(d) for d in turn)


async def test_identity_question_then_consent(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    turn = await call.say("你是哪个公司的 工号多少")
    restated = [d for d in turn if isinstance(d, Say) and d.kind == "disclosure"]
    assert restated and "测试银行" in restated[0].text and "AI-7001" in restated[0].text
    consent_question(turn)  # continues where the call was
    assert_pitch(await call.say("嗯 可以"))


async def test_identity_question_during_the_pitch_resumes_the_pitch(new_call: NewCall) -> None:
    call = new_call()
    await call.say("你好")
    await call.say("可以")
    turn = await call.say("你是机器人吗")
    assert any(isinstance(d, Say) and d.kind == "disclosure" for d in turn)
    assert not any(isinstance(d, Say) and d.kind == "consent" for d in turn)
    assert any(is_marketing(d) for d in turn)  # the pitch question, consent on record


async def test_inv5_affirm_before_the_question_is_not_consent(new_call: NewCall) -> None:
    call = new_call()
    # "嗯" as the very first turn (during the disclosure) answers nothing yet
    turn = await call.say("嗯")
    consent_question(turn)
    assert await call.svc.list_consents(call.customer) == []


async def test_inv5_product_question_before_consent_asks_consent(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    turn = await call.say("收益率是多少啊")
    consent_question(turn)
    assert not any(is_marketing(d) for d in turn)


async def test_inv5_product_question_after_consent_is_answered_with_warning(
    new_call: NewCall,
) -> None:
    call = new_call()
    await call.say("喂")
    await call.say("好的")
    assert_pitch(await call.say("起购金额是多少"))


async def test_ask_purpose_names_the_purpose_in_the_consent_question(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    ask = consent_question(await call.say("你打电话来有什么事"))
    assert "理财" in ask.text


async def test_ask_repeat_repeats_the_consent_question(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    consent_question(await call.say("你说啥 没听清"))


async def test_prohibited_promise_question_gets_risk_statement(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    turn = await call.say("是不是保本保收益没有风险")
    warnings = [d for d in turn if isinstance(d, Say) and d.kind == "risk_warning"]
    assert len(warnings) == 2 and all(not w.barge_in for w in warnings)
    assert "不保本" in warnings[0].text
    consent_question(turn)


async def test_inv5_consent_on_file_skips_the_question(new_call: NewCall) -> None:
    first = new_call()
    await first.say("喂")
    await first.say("同意")
    second = new_call(caller=first.caller)
    turn = await second.say("喂 你好")
    first_is_disclosure(turn)
    assert not any(isinstance(d, Say) and d.kind == "consent" for d in turn)
    assert_pitch(turn)


async def test_inv6_dnc_number_is_closed_at_once(new_call: NewCall) -> None:
    first = new_call()
    await first.say("喂")
    await first.say("别再打了")
    second = new_call(caller=first.caller)
    turn = await second.say("喂")
    first_is_disclosure(turn)
    assert hangup(turn).outcome == "dnc"
    assert not any(isinstance(d, Say) and d.kind == "consent" for d in turn)


async def test_interest_after_pitch_goes_to_an_adviser(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    await call.say("可以")
    move = transfer(await call.say("好的 可以"))
    assert (move.queue, move.reason) == ("general", "sales_interest")


# --- anywhere -----------------------------------------------------------------------------------


async def test_inv7_high_risk_goes_to_senior_flagged(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("喂")
    move = transfer(await call.say("我的银行卡被人盗刷了"))
    assert (move.queue, move.reason, move.flagged) == ("senior", "high_risk", True)
    assert move.priority == 9


async def test_ask_human_goes_to_general(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    move = transfer(await call.say("帮我转人工"))
    assert (move.queue, move.reason, move.flagged) == ("general", "ask_human", False)


async def test_inv7_complaint_overrides_a_later_human_request_to_senior(
    new_call: NewCall,
) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    assert transfer(await call.say("我要投诉你们的客服")).queue == "senior"
    # the transfer failed and the caller is back with the bot
    move = transfer(await call.say("给我转人工"))
    assert (move.queue, move.reason) == ("senior", "complaint")


async def test_busy_offers_a_callback_at_the_callers_time(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    turn = await call.say("我在开会 明天下午三点再打吧")
    assert callback(turn).requested == "明天下午三点"
    assert hangup(turn).outcome == "callback"
    assert not await call.svc.is_dnc(call.customer)


async def test_wrong_number_is_marked_and_closed(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    assert hangup(await call.say("你打错了 我不是张先生")).outcome == "wrong_number"
    assert not await call.svc.is_dnc(call.customer)


async def test_no_input_reprompts_twice_then_closes(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    for _ in range(2):
        turn = await call.say("/no_input")
        consent_question(turn)
        assert not only(turn, Hangup)  # no close yet
    assert hangup(await call.say("/no_input")).outcome == "no_input"


async def test_no_input_count_resets_when_the_caller_speaks(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    await call.say("/no_input")
    await call.say("/no_input")
    await call.say("你说什么")
    turn = await call.say("/no_input")
    assert not only(turn, Hangup)


async def test_out_of_scope_twice_goes_to_a_human(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    first = await call.say("今天天气怎么样")
    assert not only(first, Transfer)
    move = transfer(await call.say("给我讲个笑话吧"))
    assert (move.queue, move.reason) == ("general", "out_of_scope")


# --- inbound service ----------------------------------------------------------------------------


async def test_service_call_disclosure_then_how_can_i_help(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    turn = await call.say("喂 你好")
    first_is_disclosure(turn)
    assert any(isinstance(d, Say) and "有什么可以帮您" in d.text for d in turn)
    assert not any(isinstance(d, Say) and d.kind == "consent" for d in turn)


async def test_service_request_is_handed_off(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    move = transfer(await call.say("我想查一下这个月信用卡账单"))
    assert (move.queue, move.reason) == ("general", "service_request")


async def test_service_no_thanks_closes_without_dnc(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    assert hangup(await call.say("不用了")).outcome == "completed"
    assert not await call.svc.is_dnc(call.customer)


async def test_inv6_refusal_on_a_service_call_goes_to_dnc(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    assert hangup(await call.say("以后不要再给我打电话了")).outcome == "refused"
    assert await call.svc.is_dnc(call.customer)


async def test_goodbye_closes(new_call: NewCall) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    assert hangup(await call.say("好的 谢谢 拜拜")).outcome == "completed"


async def test_inv4_disclosure_and_escalation_are_evidence(
    new_call: NewCall, rasa_stack: Any
) -> None:
    call = new_call(purpose="service")
    await call.say("你好")
    await call.say("我被骗了 有人冒充你们让我转账")
    log = SqlEvidenceLog.from_settings(rasa_stack.settings)
    kinds = [e.kind for e in log.entries(call_id=call.call_id)]
    assert kinds[0] == "disclosure_played"
    assert "escalated" in kinds
    assert log.verify().ok


# --- the customer's number never reaches Rasa (issue #12, defect 5) ------------------------------


async def assert_rasa_holds_no_number(call: Conversation) -> None:
    """Rasa's tracker (what a production tracker store persists: events, slots, metadata)
    names the caller only by the call's handle."""
    tracker = await call.client.tracker(call.call_id)
    text = json.dumps(tracker, ensure_ascii=False)
    national = call.customer.e164[3:]
    assert national not in text and national[-8:] not in text
    assert call.caller_handle is not None and call.caller_handle in text
    assert tracker["slots"]["caller_handle"] == call.caller_handle
    assert "caller" not in tracker["slots"]
    user_metadata = [e.get("metadata") or {} for e in tracker["events"] if e["event"] == "user"]
    assert user_metadata and all(
        m.get("caller_handle") == call.caller_handle for m in user_metadata
    )


async def test_inv5_consent_is_recorded_for_the_handles_number_and_rasa_holds_no_number(
    new_call: NewCall,
) -> None:
    call = new_call()
    await call.say("喂你好")
    assert_pitch(await call.say("可以 你说吧"))
    [record] = await call.svc.list_consents(call.customer)
    assert record.call_id == call.call_id
    await assert_rasa_holds_no_number(call)


async def test_inv6_refusal_puts_the_handles_number_on_dnc_and_rasa_holds_no_number(
    new_call: NewCall,
) -> None:
    call = new_call()
    await call.say("喂")
    assert hangup(await call.say("不需要 谢谢")).dnc_recorded is True
    assert await call.svc.is_dnc(call.customer)
    await assert_rasa_holds_no_number(call)


async def test_callback_and_rasa_holds_no_number(new_call: NewCall) -> None:
    call = new_call()
    await call.say("喂")
    turn = await call.say("我在开会 明天下午三点再打吧")
    assert callback(turn).requested == "明天下午三点"
    await assert_rasa_holds_no_number(call)


async def test_inv6_a_handle_that_no_longer_resolves_leaves_the_refusal_to_the_app(
    new_call: NewCall,
) -> None:
    call = new_call()
    await call.say("喂")
    await call.handles.revoke(call.call_id)  # as if it had expired
    end = hangup(await call.say("不需要 谢谢"))
    assert end.outcome == "refused" and end.dnc_recorded is False  # the orchestrator records it
    assert not await call.svc.is_dnc(call.customer)
