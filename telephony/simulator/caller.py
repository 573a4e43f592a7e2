"""The simulated caller's keypad: scripted digits and turns, pressed on the channel's clock.

A pressed digit is queued on the channel and read by whatever runs (FreeSWITCH's
``switch_channel_dequeue_dtmf``, which fires the DTMF event): the playing prompt (a
``playback_terminators`` digit ends a ``playback``; any digit ends the prompt of
``play_and_get_digits`` and is collected), ``record``, or the park loop of the socket
application between applications. So the event reaches the ESL session at once, and a digit
pressed over a prompt is never lost. A ``digits`` turn with ``during_prompt`` is pressed
``delay_ms`` after the next prompt starts (a caller who knows the menu).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from telephony.simulator.script import Turn

if TYPE_CHECKING:
    from telephony.simulator.outbound import SimulatedCall

DigitReader = Callable[[str], None]


class Keypad:
    """The caller's scripted input of one simulated call."""

    def __init__(self, call: SimulatedCall) -> None:
        self.call = call
        self.digits = list(call.script.digits)
        self.turns = list(call.script.turns)
        self.turns_used = 0
        self.reader: DigitReader | None = None

    def next_turn(self) -> Turn:
        """Consume the next turn (silence when none is left)."""
        self.turns_used += 1
        return self.turns.pop(0) if self.turns else Turn.silent()

    def prompt_turn(self) -> Turn | None:
        """At a prompt's start: the pending ``during_prompt`` digits turn, consumed."""
        if self.turns and self.turns[0].action == "digits" and self.turns[0].during_prompt:
            return self.next_turn()
        return None

    def press_one(self, digit: str) -> None:
        """One key press: the DTMF event, then the digit to whoever reads DTMF now."""
        self.call.emit(
            "DTMF", [("DTMF-Digit", digit), ("DTMF-Duration", "2240"), ("DTMF-Source", "RTP")]
        )
        reader = self.reader
        if reader is not None:
            reader(digit)

    def press_during(self, turn: Turn) -> None:
        """Press ``turn``'s digits ``delay_ms`` into the prompt starting now, one every digit
        interval (the delay counts from now even if the task starts late)."""
        clock = self.call.clock
        started = clock.now_ms(clock.running_fork())
        self.call.spawn(self._press_during(turn, started))

    async def _press_during(self, turn: Turn, started: float) -> None:
        clock = self.call.clock
        late = clock.now_ms(clock.running_fork()) - started if clock.scale > 0 else 0.0
        if await clock.sleep(max(turn.delay_ms - late, 0)):
            return
        for index, digit in enumerate(turn.digits):
            if index and await self.call.clock.sleep(self.call.script.digit_interval_ms):
                return
            self.press_one(digit)

    async def press(self, count: int, terminators: str) -> str:
        """Press up to ``count`` of the scripted digits, stopping at a terminator."""
        pressed: list[str] = []
        script = self.call.script
        while self.digits and len(pressed) < count:
            if await self.call.clock.sleep(script.digit_interval_ms):
                break
            digit = self.digits.pop(0)
            self.press_one(digit)
            if digit in terminators:
                self.call.channel.variables["read_terminator_used"] = digit
                break
            pressed.append(digit)
        return "".join(pressed)
