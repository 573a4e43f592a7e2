"""Streaming mode of a simulated channel: the audio fork, barge-in and ``uuid_break``.

``api uuid_audio_fork <uuid> start <ws-url> mono 8k [<json>]`` (or the ``api_on_answer``
channel variable) forks the caller's audio to a WebSocket like mod_audio_fork
(:mod:`telephony.simulator.fork`); while it runs, the fork's frames are the call's clock, turn
scripted speech goes into it (during a prompt for barge-in, see :class:`Turn`), and
``api uuid_break <uuid> [all]`` ends the playing prompt with ``Playback-Status: break``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING

from telephony.simulator.fork import AudioFork
from telephony.simulator.media import read_pcm
from telephony.simulator.script import Turn

if TYPE_CHECKING:
    from telephony.simulator.outbound import SimulatedCall

FORK_CLOSE_S = 2.0


class Streaming:
    """The channel's media bugs: what ``uuid_break`` and ``uuid_audio_fork`` act on."""

    def __init__(self, call: SimulatedCall) -> None:
        self.call = call
        self.fork_task: asyncio.Task[None] | None = None
        self.answer_task: asyncio.Task[None] | None = None

    # -- api: uuid_break, uuid_audio_fork (telephony.simulator.api.ChannelMedia) -----------

    def break_playback(self, flush: bool) -> None:
        """``uuid_break``: end the playing prompt now; ``all`` also drops queued applications
        (FreeSWITCH flushes the channel's private events: they never run nor complete)."""
        call = self.call
        if call.playing:
            call.break_event.set()
        if flush:
            call.flush_apps()

    def start_fork(self, url: str, sample_rate: int, metadata: str | None) -> bool:
        """``uuid_audio_fork <uuid> start``: connect and stream in the background."""
        call = self.call
        if call.clock.running_fork() is not None or call.channel.hangup_cause is not None:
            return False
        fork = AudioFork(call.channel.uuid, url, sample_rate, metadata, time_scale=call.clock.scale)
        call.clock.fork = fork
        self.fork_task = call.spawn(self._run_fork(fork))
        return True

    def stop_fork(self) -> bool:
        """``uuid_audio_fork <uuid> stop`` (and hang-up): close the WebSocket."""
        fork = self.call.clock.running_fork()
        if fork is None:
            return False
        fork.stop()
        return True

    async def _run_fork(self, fork: AudioFork) -> None:
        result = self.call.result
        try:
            await fork.run()
        finally:
            result.fork_frames += fork.frames_sent
            result.fork_speech_frames += fork.speech_frames
            if fork.error is not None:
                result.fork_errors.append(fork.error)

    async def close(self) -> None:
        """At the end of the run: let a running fork close its WebSocket (bounded)."""
        self.stop_fork()
        task = self.fork_task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), FORK_CLOSE_S)

    # -- the caller's speech ---------------------------------------------------------------

    def say(self, turn: Turn) -> None:
        """The caller speaks ``turn``'s audio into the fork (if one runs)."""
        fork = self.call.clock.running_fork()
        if fork is None or turn.audio is None:
            return
        fork.speak(read_pcm(turn.audio, fork.sample_rate))

    def speak_during_prompt(self) -> bool:
        """At a prompt's start: a pending ``during_prompt`` say turn is spoken over it."""
        keypad = self.call.keypad
        if self.call.clock.running_fork() is None or not keypad.turns:
            return False
        turn = keypad.turns[0]
        if turn.action != "say" or not turn.during_prompt:
            return False
        keypad.next_turn()
        self.call.spawn(self._say_after(turn))
        return True

    async def _say_after(self, turn: Turn) -> None:
        if await self.call.clock.wait(turn.delay_ms) == "time":
            self.say(turn)

    def cancel_answer(self) -> None:
        task, self.answer_task = self.answer_task, None
        if task is not None:
            task.cancel()

    def answer_later(self) -> None:
        """After a prompt the caller takes the next turn, unless the IVR does something else
        within the turn's ``delay_ms``."""
        turns = self.call.keypad.turns
        if self.call.clock.running_fork() is None or not turns or turns[0].during_prompt:
            return
        self.cancel_answer()
        self.answer_task = self.call.spawn(self._answer(turns[0].delay_ms))

    async def _answer(self, delay_ms: int) -> None:
        call = self.call
        if await call.clock.wait(delay_ms) != "time":
            return
        keypad = call.keypad
        if call.app_running or call.playing or not keypad.turns or keypad.turns[0].during_prompt:
            return
        self.answer_task = None
        turn = keypad.next_turn()
        if turn.action == "say":
            self.say(turn)
        elif turn.action == "digits":
            keypad.digits = list(turn.digits)
            await keypad.press(len(turn.digits), "")
        elif turn.action == "hangup":
            call.start_hangup("NORMAL_CLEARING", "caller")
