"""Outbound legs as the dialler places them (issue 13 item 6): ``originate`` with the leg's
channel variables to ``ivr_outbound XML ivr`` on the simulated switch, the shipped dialplan
records the leg and hands it to the app. The customer number, flow, campaign and attempt id come
from the variables set at originate time, never from the leg's destination number (which reads
``ivr_outbound`` after the transfer)."""

from __future__ import annotations

import pytest
from flow_support import FlowStack

from flows.channel_vars import LegVariables
from ivr.evidence import EvidenceKind
from ivr.phone import customer_number
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

NUMBER = "13912345678"


def leg(**overrides: str | None) -> LegVariables:
    values: dict[str, str | None] = {
        "customer_number": NUMBER,
        "flow": "outbound_marketing",
        "campaign": "spring-2026",
        "attempt_id": "att-42",
    }
    values.update(overrides)
    return LegVariables(**values)


async def test_inv6_spoken_refusal_on_an_outbound_leg_puts_the_originate_number_on_dnc(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.originate(
        leg(), CallerScript(turns=(Turn.say(transcript="不需要，以后别再给我打电话了"),))
    )
    number = customer_number(NUMBER)
    assert number is not None
    entry = await flow_stack.built.compliance.dnc_entry(number)
    assert entry is not None and entry.call_id == call.call_id
    started = call.payload(EvidenceKind.CALL_STARTED)
    assert (started["campaign"], started["attempt_id"]) == ("spring-2026", "att-42")
    assert started["customer_identified"] is True
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "refused"


async def test_outbound_leg_without_a_customer_number_never_markets(
    flow_stack: FlowStack,
) -> None:
    # no ivr_customer_number: the destination reads "ivr_outbound", the caller id "0000"
    call = await flow_stack.originate(
        leg(customer_number=None), CallerScript(turns=(Turn.say(transcript="好的，你说吧"),))
    )
    started = call.payload(EvidenceKind.CALL_STARTED)
    assert started["customer_identified"] is False
    assert "consent_granted" not in call.kinds()
    flow = flow_stack.deps.registry.get("outbound_marketing")
    pitch = flow.prompts["pitch"].text or ""
    cache = flow_stack.deps.prompts.cache  # type: ignore[attr-defined]
    from flows.interpreter import render

    assert cache.path_for(render(pitch, flow.flow.variables)).name not in call.played
    assert call.payload(EvidenceKind.CALL_ENDED)["last_node"] == "no_answer"
    assert "dnc_added" not in call.kinds()
