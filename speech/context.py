"""What the dialogue expects to hear next: the context that biases ASR and tunes end-pointing.

The orchestrator knows the state of the call (the consent question was just asked, a menu was
read, the bot is conversing); the ASR does not. :func:`expect` turns that state into a
:class:`ListenContext`: the words likely now (consent answers at the consent question, the menu's
option words at a menu) plus the words that matter everywhere (refusals and complaints: a
missed "别再打了" is a missed do-not-call, invariant 6), and the end-of-turn silence for the
state (short answers are expected at a yes/no question). Pure data, no IO.

Engines use it by their own means: faster-whisper as decoder prompt (``initial_prompt`` /
``hotwords``: previous-text tokens), FunASR as ``hotword`` (contextual Paraformer) or the
runtime's ``hotwords`` JSON, PaddleSpeech ignores it.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class ListenState(enum.StrEnum):
    """Where in the dialogue the caller is about to speak."""

    CONSENT = "consent"  # a yes/no consent question was asked (marketing)
    MENU = "menu"  # a menu was read; its option words are expected
    CONVERSE = "converse"  # open conversation with the bot
    ANY = "any"  # no knowledge


# Refusal and complaint words: biased for in every state (invariant 6 depends on hearing them).
ALWAYS: tuple[str, ...] = ("别再打了", "不要再打电话", "骚扰", "投诉", "人工")
CONSENT_ANSWERS: tuple[str, ...] = ("可以", "好的", "同意", "不需要", "不用了", "不感兴趣")

# End-of-turn silence per state (ms of silence after speech before the turn is taken as over).
# Measured by bench/bench_turn_latency.py on the tuning split: short answers end sooner.
END_SILENCE_MS: dict[ListenState, int] = {
    ListenState.CONSENT: 400,
    ListenState.MENU: 400,
    ListenState.CONVERSE: 450,
    ListenState.ANY: 450,
}


@dataclass(frozen=True)
class ListenContext:
    """Bias and end-pointing for one caller turn.

    ``hotwords`` are the phrases to favour (most important first); ``end_silence_ms`` is the
    silence that ends the turn in this state (``None``: the engine's default).
    """

    state: ListenState = ListenState.ANY
    hotwords: tuple[str, ...] = ()
    end_silence_ms: int | None = None

    @property
    def prompt_text(self) -> str:
        """The hotwords as one decoder prompt (Whisper's previous-text conditioning)."""
        return "，".join(self.hotwords)


NO_CONTEXT = ListenContext()


def expect(state: ListenState | str, menu_words: tuple[str, ...] = ()) -> ListenContext:
    """The context for a turn in ``state``; ``menu_words`` are a menu's option words."""
    state = ListenState(state)
    words: list[str] = []
    if state is ListenState.CONSENT:
        words += CONSENT_ANSWERS
    elif state is ListenState.MENU:
        words += menu_words
    words += ALWAYS
    unique = tuple(dict.fromkeys(w for w in words if w.strip()))
    return ListenContext(state, unique, END_SILENCE_MS[state])
