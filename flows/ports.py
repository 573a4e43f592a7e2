"""Ports the call orchestrator depends on (adapters in :mod:`flows.adapters`).

Each is a small ``typing.Protocol`` so the orchestrator can be driven by the real engines in
production and by the FreeSWITCH simulator plus real or scripted engines in tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from bot.client import CallMetadata
from bot.directives import Directive
from campaigns.callbacks import TicketOutcome
from compliance.consent_policy import AnswerDecision, NluResult
from compliance.rules import RuleSet
from ivr.errors import Param
from ivr.phone import CustomerNumber
from speech.ports import Transcript
from speech.stream_server import CallAudio

if TYPE_CHECKING:
    from flows.call import CallFacts
    from flows.interpreter import Digits, NoInput
    from speech.bargein import PromptKind
    from speech.context import ListenState
    from telephony.session import CallSession


class PromptAudio(Protocol):
    """Text to a playable audio file (cached; ``sensitive`` text never cached on disk)."""

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path: ...


class Listener(Protocol):
    """The caller's recorded turn as recognised (empty text when there was no speech; ``clear``
    false when the engine did not hear it clearly)."""

    async def transcribe(self, wav: Path) -> Transcript: ...


class AudioStreams(Protocol):
    """Streaming mode: where FreeSWITCH forks a call's audio (``url`` + ``/audio/<uuid>``) and
    the call's :class:`CallAudio` once its fork has connected (:class:`AudioForkServer`)."""

    @property
    def url(self) -> str: ...

    async def call(self, call_uuid: str, timeout_s: float = 10.0) -> CallAudio: ...


class IntentParser(Protocol):
    """Text to the NLU result (intent ``None``, confidence 0 when NLU is unavailable); what a
    confidence is enough for is the consent policy's business (the rules file)."""

    async def parse(self, text: str) -> NluResult: ...


class DialogueBot(Protocol):
    """One caller turn to the bot's directives (raises DependencyUnavailableError).

    The bot never gets the customer's number: :meth:`caller_handle` gives the opaque handle
    that stands for it in the conversation's metadata (``None``: the caller has no number).
    """

    async def caller_handle(self, call_id: str, customer: CustomerNumber | None) -> str | None: ...

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]: ...


class Webhooks(Protocol):
    """An HTTP call to a CRM / credit / anti-fraud system: JSON object or an error."""

    async def call(
        self, method: str, url: str, body: Mapping[str, Any], timeout_s: float
    ) -> Mapping[str, Any]: ...


class Clock(Protocol):
    def __call__(self) -> datetime: ...


class ComplianceApi(Protocol):
    """What the orchestrator needs of :class:`compliance.service.ComplianceService`."""

    def rules_at(self, now: datetime | None = None) -> RuleSet: ...

    async def record_refusal(
        self,
        customer: CustomerNumber | None,
        *,
        source: str,
        reason: str,
        actor: str,
        call_id: str | None = None,
        decision: AnswerDecision | None = None,
    ) -> object: ...

    async def grant_consent(
        self,
        customer: CustomerNumber,
        *,
        purpose: str,
        scope: str,
        channel: str,
        call_id: str | None = None,
        recording_offset_ms: int | None = None,
        transcript_excerpt: str | None = None,
        at: datetime | None = None,
        decision: AnswerDecision | None = None,
    ) -> object: ...

    async def has_valid_consent(
        self, customer: CustomerNumber | None, purpose: str, at: datetime | None = None
    ) -> bool: ...


class RecordingSink(Protocol):
    """Seals a finished call's recording into the vault."""

    async def store(self, wav: Path, call: CallFacts, ended_at: datetime) -> None: ...


class ListVariables(Protocol):
    """The campaign list's values for the attempt an outbound leg dials (its ``{placeholders}``;
    account data: never logged). Empty when the attempt is not a campaign's."""

    async def for_attempt(self, attempt_id: str) -> Mapping[str, str]: ...


class CallObserver(Protocol):
    """Sees what happens on a call, as it happens (``ivr call`` prints it; may show customer
    data to the operator, so it is never a logger). An event the engine notes in English names
    its message ``code`` (``what``) or ``detail_code`` (``detail``), with ``params``, so the
    console's simulated call shows it in the designer's language."""

    def note(
        self,
        call_id: str,
        who: str,
        what: str,
        detail: str = "",
        *,
        code: str | None = None,
        detail_code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None: ...


class TicketDesk(Protocol):
    """Callback tickets: ``number`` is the caller's E.164 number or ``None`` (then no ticket:
    :class:`~campaigns.callbacks.NoNumberToCallBack`)."""

    async def open(
        self, *, call_id: str, number: str | None, queue: str, reason: str, now: datetime
    ) -> TicketOutcome: ...


class TurnTaking(Protocol):
    """How one call plays prompts and hears the caller's turns (record or stream mode,
    :mod:`flows.turns`)."""

    async def play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        tag: str,
        kind: PromptKind,
        barge_in: bool,
    ) -> tuple[str, bool]:
        """Play ``source``: the playback's response and whether caller speech broke it off."""
        ...

    async def hear(
        self, session: CallSession, call: CallFacts, timeout_s: float | None, state: ListenState
    ) -> Digits | NoInput | Transcript:
        """The caller's next turn: digits, nothing, or what was recognised (maybe empty)."""
        ...

    async def close(self, session: CallSession) -> None:
        """The call is over: stop what this mode started."""
        ...


@dataclass(frozen=True, slots=True)
class Handoff:
    """A call handed to a human queue: what the agent's screen pops (never logged).

    ``conversation`` is the caller's and the bot's turns so far as ``(who, text)``;
    ``intent`` the last intent NLU read; ``consent_state`` ``granted``/``refused``/... or None.
    """

    call_id: str
    queue: str
    priority: int
    reason: str
    intent: str | None
    customer: CustomerNumber | None
    consent_state: str | None
    conversation: tuple[tuple[str, str], ...]
    flow: str
    path: tuple[str, ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class CallReport:
    """A finished call as the floor needs it for work tickets (complaints, risk, unfinished)."""

    call_id: str
    flow: str
    flow_version: str
    purpose: str
    direction: str
    customer: CustomerNumber | None
    ended_reason: str
    intent: str | None
    escalations: tuple[tuple[str, int, str], ...]  # (queue, priority, reason)
    path: tuple[str, ...]
    conversation: tuple[tuple[str, str], ...]
    transcript_tail: str
    recording_ref: str | None  # the recording's id in the vault (the call id) when one was made
    started_at: datetime
    ended_at: datetime


class FloorHooks(Protocol):
    """The human floor (``agents``): screen pops at hand-off, work tickets at the end.
    A failure here never reaches the call (the orchestrator logs it and goes on)."""

    async def handed_off(self, handoff: Handoff) -> None: ...

    async def call_finished(self, report: CallReport) -> None: ...


@dataclass(frozen=True, slots=True)
class InspectedCall:
    """A call as quality inspection sees it: ids, purpose and who speaks for the institution
    (no customer data)."""

    call_id: str
    purpose: str
    flow: str
    campaign: str | None
    bot_id: str
    institution: str


@dataclass(frozen=True, slots=True)
class SpokenTurn:
    """One utterance of a call for quality inspection. ``speaker``: ``bot`` (prompts and bot
    replies as spoken, after the bot gate), ``caller`` or ``agent`` (ASR finals);
    ``start_ms``/``end_ms``: offsets since the call started (its recording); ``kind`` of a bot
    turn: ``disclosure``, ``consent``, ``marketing``, ``risk_warning``, ``prompt``, ``reply``."""

    speaker: str
    text: str
    start_ms: int
    end_ms: int | None = None
    kind: str | None = None
    cut_off: bool = False  # its playback was broken off before the end
    talked_over: bool = False  # the caller spoke while it played


class SpeechInspection(Protocol):
    """Quality inspection of a call's speech (``qa``). The orchestrator asks before every bot
    sentence is synthesised, passes every ASR final, and hands over the call's turns at the end.
    A failure here never reaches the call (the orchestrator logs it and goes on; a sentence is
    then spoken as it is)."""

    def vet_bot_sentence(self, call: InspectedCall, text: str, kind: str, offset_ms: int) -> str:
        """The words to synthesise: ``text`` itself, or the safe fallback when ``text`` is
        prohibited (then QA flags it: evidence and a live alert at ``offset_ms``)."""
        ...

    def heard(self, call: InspectedCall, turn: SpokenTurn) -> None:
        """One ASR final of the caller or an agent (live inspection, alerts)."""
        ...

    async def call_finished(
        self, call: InspectedCall, turns: Sequence[SpokenTurn], started_at: datetime
    ) -> None:
        """Whole-call QA of the call's ordered turns (stored)."""
        ...
