"""Scripted simulated callers: what the caller does, and how the simulated switch misbehaves."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path


class Fault(StrEnum):
    """Ways the simulated FreeSWITCH side can break the protocol or the connection."""

    MALFORMED_FRAME = "malformed_frame"
    UNKNOWN_CONTENT_TYPE = "unknown_content_type"
    BAD_JSON_EVENT = "bad_json_event"
    DROP_CONNECTION = "drop_connection"
    TRUNCATED_FRAME = "truncated_frame"
    STOP_READING = "stop_reading"
    GARBAGE = "garbage"


@dataclass(frozen=True, slots=True)
class Turn:
    """What the caller does the next time the IVR collects input (``play_and_get_digits`` or
    ``record``): press ``digits``, ``say`` an utterance (a WAV file, with its ``transcript`` as a
    sidecar for scripted ASR), stay ``silent``, or ``hangup``.

    While the channel's audio is forked (``uuid_audio_fork``, streaming mode) the IVR also
    listens when a ``playback`` ends and nothing else starts within ``delay_ms`` of audio: the
    caller then takes the turn (speech goes into the fork). A ``say`` turn with
    ``during_prompt`` is instead spoken over the next prompt, ``delay_ms`` after it starts
    (barge-in); without a fork it is consumed like any other turn.
    """

    action: str  # digits | say | silent | hangup
    digits: str = ""
    audio: Path | None = None
    transcript: str | None = None
    during_prompt: bool = False
    delay_ms: int = 400

    @classmethod
    def press(cls, digits: str, *, during_prompt: bool = False, delay_ms: int = 400) -> Turn:
        return cls("digits", digits=digits, during_prompt=during_prompt, delay_ms=delay_ms)

    @classmethod
    def say(
        cls,
        audio: Path | None = None,
        transcript: str | None = None,
        *,
        during_prompt: bool = False,
        delay_ms: int = 400,
    ) -> Turn:
        return cls(
            "say",
            audio=audio,
            transcript=transcript,
            during_prompt=during_prompt,
            delay_ms=delay_ms,
        )

    @classmethod
    def silent(cls) -> Turn:
        return cls("silent")

    @classmethod
    def hang_up(cls) -> Turn:
        return cls("hangup")


@dataclass(frozen=True, slots=True)
class CallerScript:
    """One simulated caller.

    ``digits`` are pressed when the IVR collects digits (or right after answer when
    ``digits_on_answer``); ``utterance`` is the audio the caller speaks into a ``record``;
    ``hangup_during`` names an application (``answer``, ``playback``, ``play_and_get_digits``,
    ``record``, ``bridge``) during which the caller hangs up; ``hangup_after_ms`` hangs up at a
    fixed time after connect. ``fault`` makes the switch misbehave after ``fault_after``
    commands. ``turns``, when given, script a whole conversation: each input collection
    consumes the next :class:`Turn` (and ``digits``/``utterance`` are then only used for
    ``digits_on_answer``); with no turns left the caller stays silent. ``agent_available``:
    the queues have a free agent (``callcenter_config queue count agents``);
    ``agent_taken_meanwhile``: the one counted takes another call before this caller is queued,
    so the caller waits out ``max-wait-time-with-no-agent`` (a queue timeout);
    ``agent_speech``: a WAV the agent who takes the call says into its leg's audio fork (with
    the switch's mod_callcenter model).
    """

    caller: str = "13800138000"
    destination: str = "95588"
    digits: str = ""
    digit_interval_ms: int = 700
    digits_on_answer: bool = False
    utterance: Path | None = None
    speech_ms: int = 2000
    hangup_during: str | None = None
    hangup_after_ms: int | None = None
    fault: Fault | None = None
    fault_after: int = 4
    reply_delay_ms: int = 0
    agent_talk_ms: int = 2000
    agent_speech: Path | None = None  # what the agent says once bridged (mod_callcenter model)
    turns: tuple[Turn, ...] = ()
    agent_available: bool = True
    agent_taken_meanwhile: bool = False  # counted Available, but busy before this caller queues
