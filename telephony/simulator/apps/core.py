"""mod_dptools basics: answer, set/export/unset, sleep, park, log, hangup."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from telephony.simulator.fsstrings import separate_string

if TYPE_CHECKING:
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall


async def answer(call: SimulatedCall, arg: str) -> str:
    ch = call.channel
    if ch.answer_state == "answered":
        return "_none_"
    if await call.caller_hangs_up_during("answer", 40):
        return "_none_"
    ch.media, ch.answer_state = True, "early"
    ch.answered_us = int(time.time() * 1_000_000)
    call.emit("CHANNEL_PROGRESS_MEDIA")
    ch.call_state, ch.answer_state = "EARLY", "answered"
    call.emit("CHANNEL_ANSWER")
    ch.call_state = "ACTIVE"
    hook = ch.variables.get("api_on_answer")
    if hook:
        name, _, hook_arg = hook.replace("${uuid}", ch.uuid).partition(" ")
        call.api(name, hook_arg)
    if call.script.digits_on_answer:
        call.spawn(call.keypad.press(len(call.keypad.digits), ""))
    return "_none_"


async def set_(call: SimulatedCall, arg: str) -> str:
    """``set name=value`` (``export`` too: the simulator has no bridged legs to copy to)."""
    name, _, value = arg.partition("=")
    if name:
        if value:
            call.channel.variables[name] = value
        else:
            call.channel.variables.pop(name, None)
    return "_none_"


async def unset(call: SimulatedCall, arg: str) -> str:
    call.channel.variables.pop(arg.strip(), None)
    return "_none_"


async def sleep(call: SimulatedCall, arg: str) -> str:
    await call.clock.sleep(int(arg) if arg.isdigit() else 0)
    return "_none_"


async def park(call: SimulatedCall, arg: str) -> str:
    """Wait until the channel hangs up (``uuid_kill``, the caller)."""
    await call.clock.hungup.wait()
    return "_none_"


async def hangup(call: SimulatedCall, arg: str) -> str:
    argv = separate_string(arg) if arg else []
    call.start_hangup(argv[0] if argv else "NORMAL_CLEARING", "ivr")
    return "_none_"


async def noop(call: SimulatedCall, arg: str) -> str:
    return "_none_"


APPLICATIONS: dict[str, Application] = {
    "answer": answer,
    "set": set_,
    "export": set_,
    "unset": unset,
    "sleep": sleep,
    "park": park,
    "hangup": hangup,
    "log": noop,
    "info": noop,
    "ring_ready": noop,
}
