"""Menus heard the way FreeSWITCH delivers input (issue 13 item 1): a digit pressed while an
interruptible prompt plays is queued on the channel (its DTMF event reaches the app at once) and
counts as the answer; it ends the prompt (``playback_terminators``), and the menu is not asked
again. Over the disclosure it is ignored (invariant 4)."""

from __future__ import annotations

import pytest
from flow_support import FlowStack, prompt_file

from ivr.evidence import EvidenceKind
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

QUIET_DISCLOSURE = Turn.press("", during_prompt=True)  # the caller waits out the disclosure


async def test_digit_pressed_during_the_menu_prompt_takes_its_branch(flow_stack: FlowStack) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(
            turns=(
                QUIET_DISCLOSURE,
                Turn.press("1", during_prompt=True, delay_ms=300),
                Turn.say(transcript="好的再见"),
            )
        ),
    )
    menu = prompt_file(flow_stack, "inbound_service", "main_menu")
    account = prompt_file(flow_stack, "inbound_service", "account_info")
    assert call.played.count(menu) == 1  # asked once: the 1 counted
    assert account in call.played  # where 1 goes
    assert call.result.events.count("DTMF") == 1
    commands = [(c.app, (c.arg or "").rsplit("/", 1)[-1]) for c in call.executed]
    start = commands.index(("playback", menu))
    end = commands.index(("playback", account))
    assert "record" not in [app for app, _ in commands[start:end]]  # nobody waited for more
    assert "escalated" not in call.kinds()


async def test_inv4_digit_during_the_disclosure_still_does_not_count(
    flow_stack: FlowStack,
) -> None:
    call = await flow_stack.place(
        "inbound_service",
        CallerScript(turns=(Turn.press("0", during_prompt=True), Turn.press("1"))),
    )
    assert call.payload(EvidenceKind.DISCLOSURE_PLAYED)["prompt"] == "disclosure"
    assert prompt_file(flow_stack, "inbound_service", "account_info") in call.played
    assert "escalated" not in call.kinds()  # the 0 over the disclosure did not reach a human
