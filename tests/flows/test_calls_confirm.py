"""Refusal safety (issue 12 item 4, the consent policy in the flows): an answer the policy
cannot read as a refusal or not (``NEEDS_CONFIRMATION``) gets the ``refusal_confirm`` prompt of
the prompt table ("您是说不需要了，对吗？"), asked once, and the answer to it decides; an unclear
answer is never consent. The NLU is scripted here (exact confidences); everything else is the
real stack through the simulator."""

from __future__ import annotations

import pytest
from flow_support import FlowStack, prompt_file

from compliance.consent_policy import NluResult
from ivr.phone import customer_number
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CUSTOMER = "13912345678"
LEANING_NO = "嗯……这个可能不太需要吧"
LEANING_YES = "嗯……也许吧"


class ScriptedNlu:
    """Exact NLU results for the test's utterances; the real NLU for any other text."""

    def __init__(self, inner: object, results: dict[str, NluResult]) -> None:
        self.inner = inner
        self.results = results

    async def parse(self, text: str) -> NluResult:
        if text in self.results:
            return self.results[text]
        return await self.inner.parse(text)  # type: ignore[attr-defined, no-any-return]


def scripted(stack: FlowStack) -> None:
    stack.use(
        nlu=ScriptedNlu(
            stack.deps.nlu,
            {
                LEANING_NO: NluResult("refuse_contact", 0.4),
                LEANING_YES: NluResult("affirm", 0.6),
            },
        )
    )


async def test_leaning_refusal_is_confirmed_once_and_a_yes_puts_the_number_on_dnc(
    flow_stack: FlowStack,
) -> None:
    scripted(flow_stack)
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.say(transcript=LEANING_NO), Turn.press("1"))),
    )
    confirm = prompt_file(flow_stack, "inbound_service", "refusal_confirm")
    assert call.played.count(confirm) == 1
    number = customer_number(CUSTOMER)
    assert number is not None and await flow_stack.built.compliance.is_dnc(number)
    refused = [p for k, p in call.evidence if k == "consent_refused"]
    assert len(refused) == 1 and refused[0]["question"] == "confirm_refusal"
    assert prompt_file(flow_stack, "inbound_service", "refusal_close") in call.played


async def test_leaning_refusal_denied_at_the_confirmation_is_no_refusal(
    flow_stack: FlowStack,
) -> None:
    scripted(flow_stack)
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(
            caller=CUSTOMER,
            turns=(Turn.say(transcript=LEANING_NO), Turn.press("2"), Turn.press("1")),
        ),
    )
    number = customer_number(CUSTOMER)
    assert number is not None and not await flow_stack.built.compliance.is_dnc(number)
    assert "consent_refused" not in call.kinds()
    assert call.played.count(prompt_file(flow_stack, "inbound_service", "refusal_confirm")) == 1
    assert prompt_file(flow_stack, "inbound_service", "account_info") in call.played


async def test_leaning_yes_at_the_consent_question_is_never_consent(
    flow_stack: FlowStack,
) -> None:
    scripted(flow_stack)
    call = await flow_stack.place(
        "outbound_marketing",
        CallerScript(turns=(Turn.say(transcript=LEANING_YES),) * 4),
        variables={"ivr_customer_number": CUSTOMER},
    )
    assert "consent_granted" not in call.kinds()
    assert prompt_file(flow_stack, "outbound_marketing", "pitch") not in call.played
