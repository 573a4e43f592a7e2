"""Invariant 6 when the NLU gives no intent (Rasa down or timing out under load): a spoken
"do not call me again" is still a refusal (the rules' offline refusal phrases): the number goes
to DNC and the polite close plays, instead of the call going to a human with the refusal lost.
Nothing else is read offline: a yes is never consent without the NLU. Real stack through the
simulator, with Rasa's port closed."""

from __future__ import annotations

import pytest
from flow_support import FlowStack, prompt_file

from ivr.evidence import EvidenceKind
from ivr.phone import customer_number
from shell.services import free_port
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CUSTOMER = "13912345678"
RASA_DOWN = pytest.mark.parametrize(
    "flow_stack", [{"rasa_url": f"http://127.0.0.1:{free_port()}"}], indirect=True
)


@RASA_DOWN
async def test_inv6_nlu_down_a_spoken_refusal_at_the_menu_still_goes_to_dnc(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(caller=CUSTOMER, turns=(Turn.say(transcript="以后别再给我打电话了"),)),
    )
    number = customer_number(CUSTOMER)
    assert number is not None and await flow_stack.built.compliance.is_dnc(number)
    assert prompt_file(flow_stack, "inbound_service", "refusal_close") in call.played
    refused = call.payload(EvidenceKind.CONSENT_REFUSED)
    assert refused["policy_reason"] == "refusal_intent"
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "refused"
    assert call.transfer is None  # closed politely, not handed to a human


@RASA_DOWN
async def test_inv5_nlu_down_a_spoken_yes_is_never_consent(flow_stack: FlowStack) -> None:
    call = await flow_stack.place(
        "outbound_marketing",
        CallerScript(caller=CUSTOMER, turns=(Turn.say(transcript="好的可以"),)),
        variables={"ivr_customer_number": CUSTOMER},
    )
    number = customer_number(CUSTOMER)
    assert number is not None
    assert await flow_stack.built.compliance.list_consents(number) == []
    assert not await flow_stack.built.compliance.is_dnc(number)
    assert prompt_file(flow_stack, "outbound_marketing", "pitch") not in call.played
    assert "consent_granted" not in call.kinds()
