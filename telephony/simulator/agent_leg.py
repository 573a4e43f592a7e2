"""The agent leg of a bridged queue call in the simulated mod_callcenter: a channel with media.

When the dispatcher bridges a member to an agent, mod_callcenter has originated a leg to the
agent (its uuid is ``CC-Agent-UUID`` in ``bridge-agent-start``/``bridge-agent-end``); like any
channel with media it takes ``uuid_audio_fork <agent leg uuid> start <ws-url> mono 8k
<metadata>``, streaming what the *agent* says (:attr:`CallerScript.agent_speech`: a WAV the agent
speaks once the fork runs) to the WebSocket, silence otherwise, until ``stop`` or the leg hangs
up at the bridge's end. :meth:`AgentLeg.said` waits until the agent's speech went out (plus a
second of silence, so an endpointer hears its end), bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from telephony.simulator.channel import SimChannel
from telephony.simulator.fork import AudioFork
from telephony.simulator.media import read_pcm

TAIL_MS = 1000  # silence sent after the agent's speech before the talk may end
SAID_WAIT_S = 30.0  # bound on waiting for the speech to go out (wall seconds)


class AgentLeg:
    """One agent leg: its channel (``uuid``) and its media bug (the audio fork)."""

    def __init__(self, agent: str, *, speech: Path | None = None, time_scale: float = 1.0) -> None:
        self.agent = agent
        self.channel = SimChannel(agent, agent, direction="outbound")
        self.channel.media = True
        self.speech = speech
        self.time_scale = time_scale
        self.fork: AudioFork | None = None
        self.forks_started = 0
        self.fork_errors: list[str] = []
        self._speech_ms = 0
        self._task: asyncio.Task[Any] | None = None

    @property
    def uuid(self) -> str:
        return self.channel.uuid

    # -- api: uuid_break, uuid_audio_fork (telephony.simulator.api.ChannelMedia) -------------

    def break_playback(self, flush: bool) -> None:
        """``uuid_break``: nothing plays on an agent leg the switch controls."""
        return None

    def start_fork(self, url: str, sample_rate: int, metadata: str | None) -> bool:
        """Fork the agent's audio to ``url``; False while one runs or after the hang-up."""
        if self.channel.hangup_cause is not None or (self.fork and not self.fork.ended):
            return False
        fork = AudioFork(self.uuid, url, sample_rate, metadata, time_scale=self.time_scale)
        if self.speech is not None:
            self._speech_ms = fork.speak(read_pcm(self.speech, sample_rate))
        self.fork = fork
        self.forks_started += 1
        self._task = asyncio.get_running_loop().create_task(self._run(fork))
        return True

    def stop_fork(self) -> bool:
        if self.fork is None or self.fork.ended:
            return False
        self.fork.stop()
        return True

    async def _run(self, fork: AudioFork) -> None:
        await fork.run()
        if fork.error is not None:
            self.fork_errors.append(fork.error)

    # -- the bridge ---------------------------------------------------------------------------

    async def said(self) -> None:
        """Once the agent's speech (and :data:`TAIL_MS` of silence) went into the running
        fork; at once when no fork runs or nothing is to be said (bounded)."""
        fork = self.fork
        if fork is None or fork.ended or self.speech is None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(SAID_WAIT_S):
                await fork.reached(self._speech_ms + TAIL_MS)

    async def hang_up(self, cause: str = "NORMAL_CLEARING") -> None:
        """The bridge ended: the leg hangs up and its fork closes its WebSocket (bounded)."""
        self.channel.hangup_cause = cause
        self.channel.answer_state = "hangup"
        self.stop_fork()
        task = self._task
        if task is not None and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), 2.0)
