"""Playing and collecting (switch_ivr_play_say): ``playback`` and ``play_and_get_digits``.

``playback`` ends early on a ``playback_terminators`` digit (default ``*``; ``any``, ``none``)
and sets ``playback_terminator_used``; every digit pressed meanwhile still fires its DTMF event.
``play_and_get_digits`` collects from the first digit pressed over its prompt (which ends the
prompt), then waits ``timeout`` for the first digit and ``digit_timeout`` between digits, up to
``max`` digits or a terminator, and checks the regex (``<var>`` and ``read_result``).
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from telephony.simulator.fsstrings import separate_string
from telephony.simulator.media import duration_ms

if TYPE_CHECKING:
    from telephony.simulator.apps import Application
    from telephony.simulator.outbound import SimulatedCall


def terminators_of(value: str | None) -> str:
    """``playback_terminators`` as the digits that end a playback."""
    if value is None:
        return "*"
    if value.lower() == "any":
        return "1234567890*#"
    return "" if value.lower() == "none" else value


async def play(call: SimulatedCall, source: str) -> str:
    """Play one source: PLAYBACK_START/STOP, the playback variables; the app response."""
    ms = duration_ms(source, call.sounds_dir)
    if ms is None:
        return "FILE NOT FOUND"
    file_headers = [("Playback-File-Path", source)]
    if "://" in source:
        file_headers.insert(0, ("Playback-File-Type", source.split("://", 1)[0]))
    call.emit("PLAYBACK_START", file_headers)
    call.break_event.clear()
    call.digit_break = False
    call.playing = True
    clock = call.clock.running_fork()
    started = call.clock.now_ms(clock)
    call.spoke_over_prompt = call.streaming.speak_during_prompt()
    try:
        if await call.caller_hangs_up_during("playback", ms):
            return "PLAYBACK ERROR"
        outcome = await call.clock.wait(ms, call.break_event)
    finally:
        call.playing = False
    if outcome == "hangup":
        return "PLAYBACK ERROR"
    played = ms
    if outcome == "stop":
        if not call.digit_break:
            call.result.breaks += 1
        played = min(ms, max(0, round(call.clock.now_ms(clock) - started)))
    samples = str(played * 8)
    call.channel.variables.update(
        playback_last_offset_pos=samples,
        playback_seconds=str(played // 1000),
        playback_ms=str(played),
        playback_samples=samples,
    )
    status = "break" if outcome == "stop" else "done"
    call.emit("PLAYBACK_STOP", [*file_headers, ("Playback-Status", status)])
    # an interrupted playback completes with the same response (captures: uuid_break)
    return "FILE PLAYED"


def _break_prompt(call: SimulatedCall) -> None:
    if call.playing:
        call.digit_break = True
        call.break_event.set()


async def playback(call: SimulatedCall, arg: str) -> str:
    variables = call.channel.variables
    terminators = terminators_of(variables.get("playback_terminators"))
    variables["playback_terminator_used"] = ""

    def read(digit: str) -> None:
        if digit in terminators and call.playing:
            variables["playback_terminator_used"] = digit
            _break_prompt(call)

    turn = call.keypad.prompt_turn()
    if turn is not None:
        call.keypad.press_during(turn)
    call.keypad.reader = read
    try:
        response = await play(call, arg)
    finally:
        call.keypad.reader = None
    if response == "FILE PLAYED" and not call.spoke_over_prompt:
        call.streaming.answer_later()
    return response


@dataclass(frozen=True, slots=True)
class Pagd:
    """The arguments of ``play_and_get_digits``."""

    min_digits: int
    max_digits: int
    tries: int
    timeout_ms: int
    terminators: str
    prompt: str
    invalid: str
    variable: str
    regex: str
    digit_timeout_ms: int

    @classmethod
    def parse(cls, arg: str) -> Pagd | None:
        argv = separate_string(arg)
        if len(argv) < 9 or not all(a.isdigit() for a in argv[:4]):
            return None
        digit_timeout = int(argv[9]) if len(argv) > 9 and argv[9].isdigit() else int(argv[3])
        minimum, maximum, tries, timeout = (int(a) for a in argv[:4])
        terminators = "" if argv[4] == "none" else argv[4]
        prompt, invalid, variable, regex = argv[5:9]
        return cls(
            minimum,
            maximum,
            tries,
            timeout,
            terminators,
            prompt,
            invalid,
            variable,
            regex,
            digit_timeout,
        )


def _succeed(call: SimulatedCall, pagd: Pagd, digits: str) -> bool:
    variables = call.channel.variables
    if len(digits) >= max(pagd.min_digits, 1) and re.fullmatch(pagd.regex, digits):
        variables[pagd.variable] = digits
        variables["read_result"] = "success"
        return True
    return False


async def play_and_get_digits(call: SimulatedCall, arg: str) -> str:
    pagd = Pagd.parse(arg)
    if pagd is None:
        return "_none_"
    call.channel.variables.pop(pagd.variable, None)
    if call.script.turns:
        await _pagd_turn(call, pagd)
        return "_none_"
    for _ in range(max(pagd.tries, 1)):
        if await play(call, pagd.prompt) == "PLAYBACK ERROR":
            return "_none_"
        if await call.caller_hangs_up_during("play_and_get_digits", 200):
            return "_none_"
        if not call.keypad.digits:
            if await call.clock.sleep(pagd.timeout_ms):
                return "_none_"
            continue
        digits = await call.keypad.press(pagd.max_digits, pagd.terminators)
        if call.channel.hangup_cause is not None:
            return "_none_"
        if _succeed(call, pagd, digits):
            return "_none_"
    call.channel.variables["read_result"] = "failure"
    return "_none_"


async def _pagd_turn(call: SimulatedCall, pagd: Pagd) -> None:
    """In a turn-scripted conversation: one try consumes one turn; a ``during_prompt`` digits
    turn is pressed over the prompt and collected from its first digit."""
    keypad = call.keypad
    buffer: list[str] = []
    arrived = asyncio.Event()

    def read(digit: str) -> None:
        buffer.append(digit)
        arrived.set()
        _break_prompt(call)

    early = keypad.prompt_turn()
    keypad.reader = read
    try:
        if early is not None:
            keypad.press_during(early)
        if await play(call, pagd.prompt) == "PLAYBACK ERROR":
            return
        if early is not None:
            digits = await _collect(call, pagd, buffer, arrived)
            if call.channel.hangup_cause is None and _succeed(call, pagd, digits):
                return
            call.channel.variables["read_result"] = "failure"
            return
        turn = keypad.next_turn()
        if turn.action == "hangup":
            call.start_hangup("NORMAL_CLEARING", "caller")
            return
        if turn.action == "digits":
            keypad.digits = list(turn.digits)
            digits = await keypad.press(pagd.max_digits, pagd.terminators)
            if call.channel.hangup_cause is None and _succeed(call, pagd, digits):
                return
        elif turn.action == "say" and turn.audio is not None:
            call.streaming.say(turn)
            await call.clock.sleep(duration_ms(str(turn.audio)) or call.script.speech_ms)
        else:
            await call.clock.sleep(pagd.timeout_ms)
    finally:
        keypad.reader = None
    call.channel.variables["read_result"] = "failure"


async def _collect(
    call: SimulatedCall, pagd: Pagd, buffer: list[str], arrived: asyncio.Event
) -> str:
    """Digits from ``buffer`` until ``max_digits``, a terminator, or a timeout."""
    while True:
        arrived.clear()
        digits = ""
        for digit in buffer:
            if digit in pagd.terminators:
                call.channel.variables["read_terminator_used"] = digit
                return digits
            digits += digit
            if len(digits) >= pagd.max_digits:
                return digits
        wait_ms = pagd.digit_timeout_ms if digits else pagd.timeout_ms
        if await call.clock.wait(wait_ms, arrived) != "stop":
            return digits


APPLICATIONS: dict[str, Application] = {
    "playback": playback,
    "play_and_get_digits": play_and_get_digits,
}
