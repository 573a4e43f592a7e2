"""Barge-in: decide when caller speech stops the bot's prompt. Pure logic, no IO, no clock.

The call session feeds the controller what happens — a prompt starts or ends, the VAD reports
speech start/end (times in seconds on the call's audio clock) — and gets back actions to carry
out: :class:`StopPrompt` (send ``uuid_break`` to FreeSWITCH), :class:`CaptureUtterance`
(send the caller's speech between two times to ASR).

Invariant 4: a disclosure or a mandatory risk warning is never interruptible, whatever the node
says; caller speech during it is ignored (reported as :class:`SpeechIgnored` for the evidence
log), and speech that is still going on when such a prompt ends is captured from the prompt's
end. A short noise (a cough) below ``min_speech_s`` does not stop an interruptible prompt.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from speech.ports import VadEvent, VadEventKind


class PromptKind(enum.StrEnum):
    """What a prompt is, as far as interruption goes."""

    DISCLOSURE = "disclosure"  # institution, bot ID, recording notice (invariant 4)
    RISK_WARNING = "risk_warning"  # mandatory risk warnings
    CONSENT_QUESTION = "consent_question"
    MENU = "menu"
    INFO = "info"


NEVER_INTERRUPTIBLE = frozenset({PromptKind.DISCLOSURE, PromptKind.RISK_WARNING})


@dataclass(frozen=True)
class StopPrompt:
    """Stop the playing prompt now (``uuid_break``)."""

    prompt_id: str
    at_s: float


@dataclass(frozen=True)
class CaptureUtterance:
    """The caller said something between ``start_s`` and ``end_s``: send it to ASR."""

    start_s: float
    end_s: float
    barged_in: bool


@dataclass(frozen=True)
class SpeechIgnored:
    """Caller spoke over a prompt that may not be interrupted (for the evidence log)."""

    prompt_id: str
    kind: PromptKind
    at_s: float


Action = StopPrompt | CaptureUtterance | SpeechIgnored


@dataclass(frozen=True)
class BargeInConfig:
    """Tuning: speech must last ``min_speech_s`` before it stops a prompt; barge-in is not
    accepted in the first ``grace_s`` of a prompt (echo of its own start)."""

    min_speech_s: float = 0.25
    grace_s: float = 0.0


@dataclass
class _Prompt:
    prompt_id: str
    kind: PromptKind
    interruptible: bool
    started_s: float


class BargeInController:
    """One per call leg. Feed events in time order; act on the returned actions."""

    def __init__(self, config: BargeInConfig | None = None) -> None:
        self.config = config or BargeInConfig()
        self._prompt: _Prompt | None = None
        self._speech_start: float | None = None
        self._speech_over_locked = False  # current speech began during a locked prompt
        self._stopped_for_current_speech = False

    @property
    def prompt_playing(self) -> bool:
        """Whether a prompt is playing."""
        return self._prompt is not None

    @property
    def barge_in_enabled(self) -> bool:
        """Whether the playing prompt may be interrupted now."""
        return self._prompt is not None and self._prompt.interruptible

    def capture_start(self) -> float | None:
        """Where the utterance being spoken would start if the speech ended now; None when it
        would not be captured (no speech, a prompt still plays, or it began over a locked one)."""
        if self._speech_start is None or self._prompt is not None or self._speech_over_locked:
            return None
        return self._speech_start

    @staticmethod
    def allows_barge_in(kind: PromptKind, node_allows: bool) -> bool:
        """The effective barge-in setting of a prompt: the node's, except never on a
        disclosure or a mandatory risk warning (invariant 4)."""
        return node_allows and kind not in NEVER_INTERRUPTIBLE

    def prompt_started(
        self, prompt_id: str, kind: PromptKind, node_allows_barge_in: bool, t_s: float
    ) -> list[Action]:
        """A prompt began playing at ``t_s``."""
        interruptible = self.allows_barge_in(kind, node_allows_barge_in)
        self._prompt = _Prompt(prompt_id, kind, interruptible, t_s)
        if self._speech_start is not None and not interruptible:
            self._speech_over_locked = True
        return []

    def prompt_finished(self, t_s: float) -> list[Action]:
        """The prompt ended by itself (or was stopped) at ``t_s``."""
        prompt, self._prompt = self._prompt, None
        if prompt is not None and not prompt.interruptible and self._speech_start is not None:
            # Speech that overlapped a locked prompt: only what follows the prompt counts.
            self._speech_start = max(self._speech_start, t_s)
            self._speech_over_locked = False
        return []

    def on_vad(self, event: VadEvent) -> list[Action]:
        """A VAD event; returns what to do."""
        if event.kind is VadEventKind.SPEECH_START:
            return self._speech_started(event.t_s)
        return self._speech_ended(event.t_s)

    def tick(self, t_s: float) -> list[Action]:
        """Time passed with speech going on: stop an interruptible prompt once the speech has
        lasted ``min_speech_s``. Call it for every audio frame while a prompt plays."""
        prompt = self._prompt
        if prompt is None or self._speech_start is None or self._stopped_for_current_speech:
            return []
        if not prompt.interruptible:
            return []
        if t_s - self._speech_start < self.config.min_speech_s:
            return []
        if self._speech_start - prompt.started_s < self.config.grace_s:
            return []
        self._stopped_for_current_speech = True
        self._prompt = None
        return [StopPrompt(prompt.prompt_id, t_s)]

    def _speech_started(self, t_s: float) -> list[Action]:
        self._speech_start = t_s
        self._stopped_for_current_speech = False
        prompt = self._prompt
        if prompt is not None and not prompt.interruptible:
            self._speech_over_locked = True
            return [SpeechIgnored(prompt.prompt_id, prompt.kind, t_s)]
        self._speech_over_locked = False
        return self.tick(t_s)

    def _speech_ended(self, t_s: float) -> list[Action]:
        start, self._speech_start = self._speech_start, None
        barged = self._stopped_for_current_speech
        self._stopped_for_current_speech = False
        if start is None:
            return []
        if self._speech_over_locked:
            # Entirely over a locked prompt that is still playing: ignored, nothing captured.
            self._speech_over_locked = False
            return []
        prompt = self._prompt
        if prompt is not None:
            if not prompt.interruptible:
                return []
            # Interruptible prompt still playing: the speech was too short to stop it (noise)
            # unless it is long enough now.
            if t_s - start < self.config.min_speech_s:
                return []
            self._prompt = None
            return [StopPrompt(prompt.prompt_id, t_s), CaptureUtterance(start, t_s, True)]
        return [CaptureUtterance(start, t_s, barged)]
