"""The flow format: a graph of typed nodes, modelled with pydantic (discriminated on ``type``).

A flow names its ``start`` node; every edge is a node id. Prompts are referenced by id from the
prompt table (``ivr_flows/prompts.yaml`` plus a flow's own ``prompts``), so wording changes in one
place. ``play`` nodes and prompts may be flagged ``marketing``: the validator proves every path
to them passes a ``disclosure`` and then a ``consent_gate`` (invariants 4 and 5).
"""

from __future__ import annotations

import re
from datetime import time
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

NodeId = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]
Queue = Literal["senior", "general", "campaign"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Prompt(_Strict):
    """One entry of the prompt table: text for TTS or an audio file; ``{var}`` placeholders."""

    text: str | None = None
    audio: str | None = None
    marketing: bool = False
    barge_in: bool = True
    description: str = ""

    @field_validator("audio")
    @classmethod
    def _audio_is_wav(cls, value: str | None) -> str | None:
        if value is not None and not value.endswith(".wav"):
            raise ValueError("audio prompts must be .wav files")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Prompt:
        if (self.text is None) == (self.audio is None):
            raise ValueError("a prompt has exactly one of text or audio")
        return self


class DisclosureNode(_Strict):
    """The mandatory opening: institution, bot ID, recording notice; never interruptible."""

    type: Literal["disclosure"]
    prompt: str = "disclosure"
    next: NodeId


class PlayNode(_Strict):
    """Speak a prompt. ``marketing`` content requires disclosure and consent on every path."""

    type: Literal["play"]
    prompt: str
    barge_in: bool | None = None
    marketing: bool = False
    next: NodeId


class MenuNode(_Strict):
    """DTMF menu (optionally speech: NLU intents map to targets) with timeout and retries."""

    type: Literal["menu"]
    prompt: str
    options: dict[Annotated[str, Field(pattern=r"^[0-9*#]$")], NodeId]
    intents: dict[str, NodeId] = Field(default_factory=dict)
    speech: bool = False
    timeout_s: float = Field(default=5.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=5)
    invalid_prompt: str = "invalid_input"
    no_input_prompt: str = "no_input"
    on_failure: NodeId


class CollectDigitsNode(_Strict):
    """Collect a number (account, card tail) into a variable; digits never logged."""

    type: Literal["collect_digits"]
    prompt: str
    variable: Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]*$")]
    min_digits: int = Field(default=1, ge=1, le=32)
    max_digits: int = Field(default=16, ge=1, le=32)
    terminator: Literal["#", "*", ""] = "#"
    timeout_s: float = Field(default=7.0, gt=0, le=60)
    retries: int = Field(default=2, ge=0, le=5)
    invalid_prompt: str = "invalid_input"
    next: NodeId
    on_failure: NodeId


class BotNode(_Strict):
    """Hand the conversation to Rasa until it returns a transfer or hangup directive."""

    type: Literal["bot"]
    max_turns: int = Field(default=20, ge=1, le=100)
    on_transfer: NodeId | None = None
    on_hangup: NodeId | None = None
    on_failure: NodeId


class ConsentGateNode(_Strict):
    """Ask explicit consent for ``purpose`` (default: the flow's); record grant or refusal."""

    type: Literal["consent_gate"]
    prompt: str = "consent_question"
    purpose: str | None = None
    scope: str = "product_introduction"
    retries: int = Field(default=1, ge=0, le=3)
    timeout_s: float = Field(default=6.0, gt=0, le=60)
    on_granted: NodeId
    on_refused: NodeId
    on_no_answer: NodeId


class TransferNode(_Strict):
    """Transfer to a human queue; when no agent is free, ``on_no_agent`` (a callback ticket)."""

    type: Literal["transfer"]
    queue: Queue
    priority: int = Field(default=5, ge=0, le=10)
    reason: str
    prompt: str | None = "transfer_notice"
    on_no_agent: NodeId


class DayHours(_Strict):
    days: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]]
    open: time
    close: time


class BusinessHoursNode(_Strict):
    """Branch on the current time in ``timezone`` against opening hours."""

    type: Literal["business_hours"]
    timezone: str = "Asia/Shanghai"
    hours: list[DayHours]
    open: NodeId
    closed: NodeId


class Condition(_Strict):
    variable: str
    op: Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "exists", "missing"]
    value: Any = None
    next: NodeId


class ConditionNode(_Strict):
    """First matching case wins; otherwise ``default``."""

    type: Literal["condition"]
    cases: list[Condition] = Field(min_length=1)
    default: NodeId


class SetNode(_Strict):
    """Set variables (values may use ``{var}`` placeholders)."""

    type: Literal["set"]
    values: dict[str, str | int | float | bool]
    next: NodeId


class WebhookNode(_Strict):
    """HTTP call to a CRM, credit or anti-fraud system; JSON results saved into variables."""

    type: Literal["webhook"]
    url: str
    method: Literal["GET", "POST"] = "POST"
    timeout_s: float = Field(default=2.0, gt=0, le=10)
    body: dict[str, Any] = Field(default_factory=dict)
    save: dict[str, str] = Field(default_factory=dict, description="variable -> JSON key")
    next: NodeId
    on_failure: NodeId

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not re.match(r"^https?://", value) and not value.startswith("{"):
            raise ValueError("webhook url must start with http:// or https://")
        return value


class CallbackTicketNode(_Strict):
    """Open a callback ticket (no agent free, caller busy) and continue.

    Without a ``queue`` of its own the ticket goes to the queue of the transfer that found no
    agent free (its team and SLA), else to ``general``."""

    type: Literal["callback_ticket"]
    queue: Queue | None = None
    reason: str
    prompt: str | None = "callback_ticket"
    next: NodeId


class HangupNode(_Strict):
    """End the call, optionally after a goodbye prompt."""

    type: Literal["hangup"]
    prompt: str | None = "goodbye"
    cause: str = "NORMAL_CLEARING"


Node = Annotated[
    DisclosureNode
    | PlayNode
    | MenuNode
    | CollectDigitsNode
    | BotNode
    | ConsentGateNode
    | TransferNode
    | BusinessHoursNode
    | ConditionNode
    | SetNode
    | WebhookNode
    | CallbackTicketNode
    | HangupNode,
    Field(discriminator="type"),
]

TERMINAL_TYPES = frozenset({"hangup", "transfer"})
CONTENT_TYPES = frozenset({"play", "menu", "collect_digits", "bot", "consent_gate"})


class Flow(_Strict):
    """One IVR flow as a designer writes it."""

    flow: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]
    description: str = ""
    direction: Literal["inbound", "outbound"]
    purpose: str = "service"
    start: NodeId
    prompts: dict[str, Prompt] = Field(default_factory=dict)
    variables: dict[str, str | int | float | bool] = Field(default_factory=dict)
    nodes: dict[NodeId, Node] = Field(min_length=1)


class PromptTable(_Strict):
    """The shared prompt table (``ivr_flows/prompts.yaml``)."""

    prompts: dict[str, Prompt]


def edges(node: BaseModel) -> list[tuple[str, str]]:
    """Outgoing edges of a node as ``(label, target)``, in a stable order."""
    out: list[tuple[str, str]] = []
    for name in type(node).model_fields:
        value = getattr(node, name)
        if name in {"next", "default", "open", "closed"} or name.startswith("on_"):
            if isinstance(value, str):
                out.append((name, value))
        elif name in {"options", "intents"}:
            out.extend((f"{name}.{key}", target) for key, target in value.items())
        elif name == "cases":
            out.extend((f"cases[{i}]", case.next) for i, case in enumerate(value))
    return out


def prompt_refs(node: BaseModel) -> list[tuple[str, str]]:
    """Prompt ids a node references, as ``(field, prompt id)``."""
    refs = []
    for name in ("prompt", "invalid_prompt", "no_input_prompt"):
        value = getattr(node, name, None)
        if isinstance(value, str):
            refs.append((name, value))
    return refs
