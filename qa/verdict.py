"""Decisions on speech (pure): a bot sentence before synthesis, one line of a call.

:func:`check_bot_sentence` is the gate the orchestrator calls before a bot sentence is
synthesised: a sentence with a prohibited wording is blocked and replaced by the rules' safe
fallback (``bot_fallback``), and the verdict carries the hits and the rules version so the
caller can flag it (evidence, live alert). It never raises on odd input (empty, enormous, mixed
scripts); it is the only way QA may change a call (invariant: QA never blocks a call otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.compiled import CompiledRules
from qa.matcher import Hit
from qa.rules import Speaker
from qa.second_stage import ModelHit


@dataclass(frozen=True, slots=True)
class SpeechContext:
    """What the QA hooks know about the call a sentence belongs to (no customer data)."""

    call_id: str
    purpose: str = "service"
    campaign: str | None = None
    flow: str | None = None
    agent_id: str | None = None  # bot or human agent id
    institution: str | None = None


@dataclass(frozen=True, slots=True)
class BotVerdict:
    """``allowed``: speak ``text`` as given; else speak ``speak`` (the fallback) and flag."""

    allowed: bool
    text: str
    speak: str
    hits: tuple[Hit, ...]
    rules_version: str
    model_hits: tuple[ModelHit, ...] = ()  # the learned stage's, for review: never a block

    @property
    def blocked(self) -> bool:
        return not self.allowed

    def as_dict(self) -> dict[str, object]:
        return {
            "allowed": self.allowed,
            "speak": self.speak,
            "hits": [h.as_dict() for h in self.hits],
            "rules_version": self.rules_version,
        }


def check_bot_sentence(text: str, context: SpeechContext, rules: CompiledRules) -> BotVerdict:
    """Allow ``text``, or block it and give the safe fallback to speak instead: the whole
    check (:meth:`CompiledRules.check`), whose rule hits block and whose model hits only flag."""
    line = rules.check(text, Speaker.BOT)
    if not line.hits:
        return BotVerdict(True, text, text, (), rules.version, line.model_hits)
    return BotVerdict(
        False, text, rules.rules.bot_fallback, line.hits, rules.version, line.model_hits
    )
