"""The messages between the flow interpreter and the orchestrator (pure values, no IO).

:class:`flows.interpreter.FlowRun` yields an *instruction* (what the orchestrator must do:
speak, gather, ask consent, converse, transfer, call a webhook, open a callback ticket, hang up)
and is resumed with its *result* (what happened). ``flows.interpreter`` re-exports them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# ---- instructions (what the orchestrator must do) ----


@dataclass(frozen=True, slots=True)
class Speak:
    """Play a prompt: TTS ``text`` or an ``audio`` file. ``kind`` is disclosure, marketing, ..."""

    node: str
    prompt_id: str
    text: str | None
    audio: str | None
    barge_in: bool
    kind: str = "prompt"


@dataclass(frozen=True, slots=True)
class Gather:
    """Play ``prompt`` and collect DTMF (and speech if ``speech``)."""

    node: str
    prompt: Speak
    min_digits: int
    max_digits: int
    terminator: str
    timeout_s: float
    valid_digits: str | None
    speech: bool


@dataclass(frozen=True, slots=True)
class AskConsent:
    """Ask explicit consent for ``purpose``; the orchestrator records grant or refusal."""

    node: str
    prompt: Speak
    purpose: str
    scope: str
    timeout_s: float
    retries: int = 1


@dataclass(frozen=True, slots=True)
class Converse:
    """Hand the call to the bot until it returns a transfer or hangup directive."""

    node: str
    max_turns: int


@dataclass(frozen=True, slots=True)
class TransferCall:
    node: str
    queue: str
    priority: int
    reason: str
    notice: Speak | None


@dataclass(frozen=True, slots=True)
class CallWebhook:
    node: str
    url: str
    method: str
    body: Mapping[str, Any]
    timeout_s: float


@dataclass(frozen=True, slots=True)
class OpenCallbackTicket:
    node: str
    queue: str
    reason: str
    notice: Speak | None


@dataclass(frozen=True, slots=True)
class HangupCall:
    node: str
    cause: str
    goodbye: Speak | None


Instruction = (
    Speak
    | Gather
    | AskConsent
    | Converse
    | TransferCall
    | CallWebhook
    | OpenCallbackTicket
    | HangupCall
)

# ---- results (what happened) ----


@dataclass(frozen=True, slots=True)
class Played:
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class Digits:
    digits: str


@dataclass(frozen=True, slots=True)
class Utterance:
    text: str
    intent: str | None


@dataclass(frozen=True, slots=True)
class NoInput:
    pass


@dataclass(frozen=True, slots=True)
class ConsentAnswer:
    outcome: str  # granted | refused | no_answer


@dataclass(frozen=True, slots=True)
class BotOutcome:
    outcome: str  # transfer | hangup | failure
    queue: str | None = None
    priority: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class TransferOutcome:
    connected: bool


@dataclass(frozen=True, slots=True)
class WebhookResult:
    ok: bool
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Done:
    pass


Result = (
    Played
    | Digits
    | Utterance
    | NoInput
    | ConsentAnswer
    | BotOutcome
    | TransferOutcome
    | WebhookResult
    | Done
)
