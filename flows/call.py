"""What one call of the orchestrator is made of: its configuration, its dependencies (ports,
built once per process by :mod:`flows.app`), the facts it learns as it goes, and the two ways it
stops early. No IO here.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from compliance.consent_policy import AnswerDecision
from flows.interpreter import Digits, NoInput, Utterance
from flows.ports import (
    AudioStreams,
    CallObserver,
    CallReport,
    ComplianceApi,
    DialogueBot,
    FloorHooks,
    Handoff,
    IntentParser,
    Listener,
    ListVariables,
    PromptAudio,
    RecordingSink,
    SpeechInspection,
    SpokenTurn,
    TicketDesk,
    Webhooks,
)
from flows.registry import FlowRegistry, FlowVersion
from ivr.errors import IvrError, Param
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.phone import CustomerNumber

_log = logging.getLogger(__name__)

# Variables that are not customer data: prompts using only these may be cached on disk.
PUBLIC_VARIABLES = frozenset({"institution", "bot_id", "product", "due_date"})


@dataclass(frozen=True, slots=True)
class OrchestratorConfig:
    institution: str
    bot_id: str
    work_dir: Path
    default_flow: str = "inbound_service"
    record_max_s: int = 10
    record_silence_s: int = 1
    max_call_s: float = 4 * 3600.0
    audio_mode: str = "record"  # "stream": caller audio via uuid_audio_fork (needs audio_streams)
    stream_connect_s: float = 5.0  # the fork must connect within this, else record mode
    listen_timeout_s: float = 8.0  # stream mode: no-input timeout of a bot turn


@dataclass
class CallFacts:
    """What the orchestrator knows about the call in progress."""

    call_id: str
    flow: FlowVersion
    direction: str
    purpose: str
    customer: CustomerNumber | None  # None: withheld, an extension, no usable number
    campaign: str | None
    started_at: datetime
    started_mono: float
    recording: Path  # the call's one recording (the dialplan's record_session, or ours)
    scratch: Path
    own_recording: bool = True  # we started it (no ivr_recording_path from the dialplan)
    attempt_id: str | None = None
    transcript_tail: str = ""
    consent_state: str | None = None
    asr_down: bool = False
    ended_reason: str = "completed"
    last_node: str = ""
    events: list[str] = field(default_factory=list)
    terminators: str = "none"  # the channel's playback_terminators now
    path: list[str] = field(default_factory=list)  # flow nodes run, in order
    conversation: list[tuple[str, str]] = field(default_factory=list)  # (caller|bot, text)
    intent: str | None = None  # the last intent NLU read
    escalations: list[tuple[str, int, str]] = field(default_factory=list)
    spoken: list[SpokenTurn] = field(default_factory=list)  # every turn, for QA (never logged)
    talked_over: bool = False  # the caller spoke over the prompt playing now (stream mode)

    def offset_ms(self) -> int:
        return int((time.monotonic() - self.started_mono) * 1000)

    @property
    def customer_number(self) -> str | None:
        """The customer's E.164 number, or ``None`` when the caller has no usable one."""
        return self.customer.e164 if self.customer is not None else None


@dataclass(frozen=True, slots=True)
class Heard:
    """One caller turn and the consent policy's reading of it."""

    turn: Digits | Utterance | NoInput
    answer: AnswerDecision


@dataclass(frozen=True, slots=True)
class CallDeps:
    """Everything a call needs; built once per process."""

    registry: FlowRegistry
    prompts: PromptAudio
    listener: Listener
    nlu: IntentParser
    bot: DialogueBot
    compliance: ComplianceApi
    evidence: EvidenceSink
    webhooks: Webhooks
    tickets: TicketDesk
    recordings: RecordingSink | None
    config: OrchestratorConfig
    qa: SpeechInspection  # quality inspection (qa.service.build_call_qa; explicit when off)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    observer: CallObserver | None = None
    audio_streams: AudioStreams | None = None
    floor: FloorHooks | None = None  # screen pops and work tickets (agents)
    list_variables: ListVariables | None = None  # outbound: the campaign row's prompt values

    def note(
        self,
        call: CallFacts,
        who: str,
        what: str,
        detail: str = "",
        *,
        code: str | None = None,
        detail_code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        """Tell the observer (``ivr call`` prints it; never a logger: it may show customer data);
        the caller's and the bot's words also go into the call's conversation (screen pop).
        An English event names its message code (:class:`~flows.ports.CallObserver`)."""
        if who in ("caller", "bot") and not what.startswith(("(", "transfer ", "hangup ")):
            call.conversation.append((who, what))
        if self.observer is not None:
            self.observer.note(
                call.call_id, who, what, detail, code=code, detail_code=detail_code, params=params
            )

    def note_keys(self, call: CallFacts, digits: str) -> None:
        """The keys the caller pressed (none: no input)."""
        if digits:
            self.note(call, "caller", f"DTMF {digits}", code="call.dtmf", params={"digits": digits})
        else:
            self.note(call, "caller", "(no input)", code="call.no_input")

    async def record(self, kind: EvidenceKind, call: CallFacts, **payload: object) -> None:
        """One evidence entry of ``call``."""
        call.events.append(kind.value)
        await self.evidence.append(kind, call_id=call.call_id, payload=payload)


class CallOver(Exception):
    """The flow stopped early (a refusal closed the call)."""


class PromptUnavailableError(IvrError):
    """TTS could not render a prompt: the caller goes to a human rather than silence."""


async def tell_floor(hook: Awaitable[None]) -> None:
    """The floor's hooks never break a call: a failure is logged and the call goes on."""
    try:
        await hook
    except Exception:  # noqa: BLE001 - a floor failure must never reach the call
        _log.exception("agent floor hook failed")


def handoff_card(call: CallFacts, queue: str, priority: int, reason: str, at: datetime) -> Handoff:
    """What the agent's screen pops when ``call`` is handed to ``queue``."""
    return Handoff(
        call_id=call.call_id,
        queue=queue,
        priority=priority,
        reason=reason,
        intent=call.intent,
        customer=call.customer,
        consent_state=call.consent_state,
        conversation=tuple(call.conversation),
        flow=call.flow.name,
        path=tuple(call.path),
        at=at,
    )


def call_report(call: CallFacts, ended_at: datetime, recorded: bool) -> CallReport:
    """A finished call as the floor needs it for work tickets."""
    return CallReport(
        call_id=call.call_id,
        flow=call.flow.name,
        flow_version=call.flow.version,
        purpose=call.purpose,
        direction=call.direction,
        customer=call.customer,
        ended_reason=call.ended_reason,
        intent=call.intent,
        escalations=tuple(call.escalations),
        path=tuple(call.path),
        conversation=tuple(call.conversation),
        transcript_tail=call.transcript_tail,
        recording_ref=call.call_id if recorded else None,
        started_at=call.started_at,
        ended_at=ended_at,
    )
