"""When a caller's turn is over: per-state end-of-turn silence and speculative recognition.

Pure logic, no IO, no clock. Waiting a fixed 600 ms of silence and only then running ASR makes
every turn cost 600 ms + ASR. :class:`TurnEnder` does better on the same audio:

- at the first ``speculate_ms`` of silence inside speech it asks for a *speculative*
  recognition of the speech so far (the span the final utterance will have if the caller says no
  more), so ASR runs while we are still waiting to be sure the turn is over;
- the turn ends after the state's ``end_silence_ms`` (short at a yes/no question), as soon as the
  speculative transcript is in and is not a hesitation;
- a transcript that is only a filler (嗯, 那个, 呃, 喂 …: the caller is still thinking) does not
  end the turn: the VAD's own, longer ``hesitation_ms`` applies, so "嗯……不需要" is not taken
  as "嗯" (which at a consent question would read as a yes);
- speech that resumes cancels the speculation (its span no longer matches).

The caller (``speech.stream_server.CallAudio``) feeds it the VAD's state after each frame and
carries out the returned :class:`Speculate` / :class:`EndTurn` actions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from speech.context import ListenContext

# Whole-utterance fillers: the caller has not said anything yet.
_HESITATION = re.compile(
    r"^(?:[嗯呃啊额哦噢唔哎诶喂那这个就是然后我]|那个|这个|就是|然后|我想|我要)+$"
)
_PUNCT = re.compile(r"[\s,，.。!！?？、…~]+")


def is_hesitation(text: str) -> bool:
    """True for a transcript that is only fillers ("嗯", "那个，", "呃呃"), or empty."""
    core = _PUNCT.sub("", text)
    return not core or _HESITATION.fullmatch(core) is not None


@dataclass(frozen=True)
class EndpointPolicy:
    """End-of-turn timing (ms): ``end_silence_ms`` after a non-hesitant speculative transcript,
    ``hesitation_ms`` otherwise (the VAD's own end-pointing), speculation after
    ``speculate_ms`` (at least the utterance's end padding, so the span is complete)."""

    end_silence_ms: int = 450
    speculate_ms: int = 220
    hesitation_ms: int = 900

    @classmethod
    def for_context(
        cls, context: ListenContext | None, default_end_ms: int = 450
    ) -> EndpointPolicy:
        end = context.end_silence_ms if context and context.end_silence_ms else default_end_ms
        return cls(end_silence_ms=end)


@dataclass(frozen=True)
class Speculate:
    """Recognise the speech from ``start_s`` to ``end_s`` now (it may be the final utterance)."""

    start_s: float
    end_s: float


@dataclass(frozen=True)
class EndTurn:
    """The turn is over: end the VAD segment at its last speech frame."""


TurnAction = Speculate | EndTurn


class TurnEnder:
    """One per call leg; feed it after every audio frame."""

    def __init__(self, policy: EndpointPolicy | None = None) -> None:
        self.policy = policy or EndpointPolicy()
        self._span: tuple[float, float] | None = None  # speculated span
        self._text: str | None = None  # its transcript, once in

    def set_policy(self, policy: EndpointPolicy) -> None:
        """A new turn's timing (e.g. the state changed)."""
        self.policy = policy

    @property
    def speculated_span(self) -> tuple[float, float] | None:
        return self._span

    def on_frame(
        self,
        in_speech: bool,
        speech_start_s: float | None,
        last_speech_end_s: float,
        silence_s: float,
    ) -> list[TurnAction]:
        """The VAD's state after a frame: inside a segment since ``speech_start_s``, the last
        speech frame ended at ``last_speech_end_s``, ``silence_s`` of silence since then."""
        if not in_speech or speech_start_s is None:
            self._span, self._text = None, None
            return []
        if silence_s <= 0:
            if self._span is not None:  # speech resumed: the speculation is stale
                self._span, self._text = None, None
            return []
        out: list[TurnAction] = []
        span = (speech_start_s, last_speech_end_s)
        if self._span != span and silence_s * 1000 >= self.policy.speculate_ms:
            self._span, self._text = span, None
            out.append(Speculate(*span))
        if (
            self._span == span
            and self._text is not None
            and silence_s * 1000 >= self.policy.end_silence_ms
            and not is_hesitation(self._text)
        ):
            out.append(EndTurn())
        return out

    def speculation_done(self, span: tuple[float, float], text: str) -> None:
        """The speculative transcript of ``span`` is in (ignored when stale)."""
        if span == self._span:
            self._text = text

    def turn_ended(self) -> None:
        """The segment ended (by :class:`EndTurn` or the VAD's own end-pointing)."""
        self._span, self._text = None, None
