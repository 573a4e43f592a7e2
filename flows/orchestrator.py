"""The call orchestrator: one flow drives one call through telephony, speech, bot, compliance
and records.

For each call (a :class:`telephony.session.CallSession` from the outbound ESL server) it picks the
active flow version (kept for the whole call), answers, starts the recording, runs the
:class:`flows.interpreter.FlowRun` step machine and executes its instructions:

- prompts are synthesised (cached) and played; disclosures and risk warnings cannot be
  interrupted, DTMF pressed during them is discarded (invariant 4); a played disclosure is
  evidence;
- input is DTMF (``play_and_get_digits``) or, where speech is allowed, a per-turn ``record`` with
  silence detection, then ASR and NLU; a refusal heard anywhere adds the number to DNC before
  the call ends and closes politely (invariant 6);
- in stream mode (``audio_mode="stream"``) the caller's audio is forked at answer
  (``uuid_audio_fork`` → :class:`speech.stream_server.AudioForkServer`): prompts are announced to
  the call's :class:`~speech.stream_server.CallAudio`, caller speech over an interruptible prompt
  stops it (``uuid_break``) and becomes the next turn, speech over a disclosure or risk warning
  is ignored (invariant 4), and a turn is the next recognised utterance instead of ``record``;
- consent is asked explicitly and recorded with its evidence, a refusal goes to DNC (5, 6);
- the bot (Rasa) runs until it asks for a transfer or a hangup; when it is down or slow the flow
  takes its fallback branch, never silence;
- transfers check for a free agent first; none free → a callback ticket (invariant 7);
- at the end the recording is sealed into the vault (invariant 10) and ``call_ended`` evidence
  is written; a caller hanging up at any moment ends the flow cleanly.

Logs carry the call id, flow and node only: never numbers, digits or transcripts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.client import CallMetadata
from bot.directives import Callback, Hangup, Say, Transfer
from compliance.consent_policy import (
    AnswerContext,
    AnswerDecision,
    AnswerReason,
    CallerAnswer,
    NluResult,
    Outcome,
    Question,
    decide_answer,
)
from flows.channel_vars import LegVariables
from flows.interpreter import (
    AskConsent,
    BotOutcome,
    CallWebhook,
    ConsentAnswer,
    Converse,
    Digits,
    Done,
    FlowRun,
    Gather,
    HangupCall,
    Instruction,
    NoInput,
    OpenCallbackTicket,
    Played,
    Result,
    Speak,
    TransferCall,
    TransferOutcome,
    Utterance,
    WebhookResult,
)
from flows.ports import (
    AudioStreams,
    CallObserver,
    ComplianceApi,
    DialogueBot,
    IntentParser,
    Listener,
    PromptAudio,
    RecordingSink,
    TicketDesk,
    Webhooks,
)
from flows.registry import FlowRegistry, FlowVersion
from flows.streamed import StreamedAudio
from ivr.crypto import sm3
from ivr.errors import DependencyUnavailableError, IvrError
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.phone import CustomerNumber, customer_number
from speech.bargein import NEVER_INTERRUPTIBLE, PromptKind, SpeechIgnored, StopPrompt
from speech.context import ListenState, expect
from speech.ports import VadEvent, VadEventKind
from speech.stream_server import (
    RecognitionFailed,
)
from telephony.errors import CallEndedError
from telephony.session import CallSession

log = logging.getLogger(__name__)

# Variables that are not customer data: prompts using only these may be cached on disk.
PUBLIC_VARIABLES = frozenset({"institution", "bot_id", "product", "due_date"})
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


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
    recording: Path
    scratch: Path
    attempt_id: str | None = None
    transcript_tail: str = ""
    consent_state: str | None = None
    asr_down: bool = False
    ended_reason: str = "completed"
    last_node: str = ""
    events: list[str] = field(default_factory=list)
    stream: StreamedAudio | None = None
    terminators: str = "none"  # the channel's playback_terminators now

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
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    observer: CallObserver | None = None
    audio_streams: AudioStreams | None = None


class _CallOver(Exception):
    """The flow stopped early (refusal closed the call)."""


class PromptUnavailableError(IvrError):
    """TTS could not render a prompt: the caller goes to a human rather than silence."""


class CallOrchestrator:
    """A :class:`telephony.handler.CallHandler` running the designer's flows."""

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps

    async def __call__(self, session: CallSession) -> None:
        call = self._call_facts(session)
        log.info("call %s: flow %s@%s", call.call_id, call.flow.name, call.flow.version)
        try:
            await self._run(session, call)
        except CallEndedError:
            call.ended_reason = "caller_hangup"
            log.info("call %s: caller hung up at node %s", call.call_id, call.last_node)
        except _CallOver:
            pass
        except PromptUnavailableError:
            log.error(
                "call %s: TTS unavailable at %s; handing to a human", call.call_id, call.last_node
            )
            await self._emergency_human(session, call)
        finally:
            await self._finish(session, call)

    # ---- call lifecycle ----

    def _call_facts(self, session: CallSession) -> CallFacts:
        cfg = self.deps.config
        leg = LegVariables.from_variables(session.channel_variables)
        version = self.deps.registry.get(leg.flow or cfg.default_flow)
        direction = version.flow.direction
        # outbound: only the dialler's variable names the customer; the destination number of
        # a leg transferred to ivr_outbound is "ivr_outbound", never a customer number
        raw = leg.customer_number
        if raw is None and direction == "inbound":
            raw = session.caller_number
        scratch = cfg.work_dir / "calls" / session.uuid
        scratch.mkdir(parents=True, exist_ok=True)
        return CallFacts(
            call_id=session.uuid,
            flow=version,
            direction=direction,
            purpose=leg.purpose or version.flow.purpose,
            customer=customer_number(raw),  # the edge: a value object or None
            campaign=leg.campaign,
            attempt_id=leg.attempt_id,
            started_at=self.deps.clock(),
            started_mono=time.monotonic(),
            recording=cfg.work_dir / "recordings" / f"{session.uuid}.wav",
            scratch=scratch,
        )

    async def _run(self, session: CallSession, call: CallFacts) -> None:
        deps = self.deps
        await session.answer()
        call.recording.parent.mkdir(parents=True, exist_ok=True)
        await session.set_variable("playback_terminators", "none")
        await session.record_session(str(call.recording))
        if deps.config.audio_mode == "stream" and deps.audio_streams is not None:
            call.stream = await self._start_stream(session, call, deps.audio_streams)
        await self._evidence(
            EvidenceKind.CALL_STARTED,
            call,
            flow=call.flow.name,
            flow_version=call.flow.version,
            direction=call.direction,
            purpose=call.purpose,
            campaign=call.campaign,
            attempt_id=call.attempt_id,
            customer_identified=call.customer is not None,
        )
        consent_on_file = False
        if call.purpose == "marketing" and call.customer is not None:
            with contextlib.suppress(IvrError):
                consent_on_file = await deps.compliance.has_valid_consent(
                    call.customer, call.purpose
                )
        variables = {
            "institution": deps.config.institution,
            "bot_id": deps.config.bot_id,
            "call_id": call.call_id,
            "caller_index": "",
        }
        run = FlowRun(call.flow.flow, call.flow.prompts, variables, consent_on_file=consent_on_file)
        instruction: Instruction | None = run.start(deps.clock())
        while instruction is not None:
            call.last_node = instruction.node
            result = await self._execute(session, call, instruction)
            instruction = run.resume(result, deps.clock())

    async def _start_stream(
        self, session: CallSession, call: CallFacts, streams: AudioStreams
    ) -> StreamedAudio | None:
        """Fork the caller's audio (mod_audio_fork); on failure the call uses record mode."""
        uuid = session.uuid
        metadata = json.dumps({"uuid": uuid})
        reply = await session.api(
            "uuid_audio_fork", f"{uuid} start {streams.url}/audio/{uuid} mono 8k {metadata}"
        )
        if not reply.text.startswith("+OK"):
            log.warning("call %s: audio fork refused; record mode for this call", call.call_id)
            return None
        try:
            audio = await streams.call(uuid, timeout_s=self.deps.config.stream_connect_s)
        except TimeoutError:
            log.warning("call %s: audio fork did not connect; record mode", call.call_id)
            with contextlib.suppress(Exception):
                await session.api("uuid_audio_fork", f"{uuid} stop", timeout_s=2.0)
            return None
        log.info("call %s: caller audio streamed", call.call_id)
        return StreamedAudio(audio)

    async def _stop_stream(self, session: CallSession, call: CallFacts) -> None:
        stream, call.stream = call.stream, None
        if stream is None:
            return
        stream.close()
        if not stream.closed and not session.is_hung_up:
            with contextlib.suppress(Exception):
                await session.api("uuid_audio_fork", f"{session.uuid} stop", timeout_s=2.0)

    async def _emergency_human(self, session: CallSession, call: CallFacts) -> None:
        """Speech output failed: the general queue, never silence (transfer needs no prompt)."""
        call.ended_reason = "tts_unavailable"
        with contextlib.suppress(CallEndedError):
            await self._evidence(
                EvidenceKind.ESCALATED,
                call,
                queue="general",
                priority=5,
                reason="tts_unavailable",
                source="ivr",
            )
            self._note(call, "ivr", "transfer → general", "tts unavailable")
            await session.enqueue("general")

    async def _finish(self, session: CallSession, call: CallFacts) -> None:
        await self._stop_stream(session, call)
        with contextlib.suppress(Exception):
            if not session.is_hung_up and not session.released:
                await session.hangup("NORMAL_CLEARING")
        if session.released:
            # handed to a human queue: the recording ends when the caller hangs up there
            with contextlib.suppress(Exception):
                await session.wait_hangup(self.deps.config.max_call_s)
        with contextlib.suppress(Exception):
            await session.wait_finished(3.0)
        ended_at = self.deps.clock()
        await self._evidence(
            EvidenceKind.CALL_ENDED,
            call,
            reason=call.ended_reason,
            last_node=call.last_node,
            duration_ms=call.offset_ms(),
        )
        if self.deps.recordings is not None and call.recording.exists():
            try:
                await self.deps.recordings.store(call.recording, call, ended_at)
            except IvrError:
                log.exception("call %s: recording not stored", call.call_id)
        shutil.rmtree(call.scratch, ignore_errors=True)
        log.info("call %s ended (%s)", call.call_id, call.ended_reason)

    def _note(self, call: CallFacts, who: str, what: str, detail: str = "") -> None:
        if self.deps.observer is not None:
            self.deps.observer.note(call.call_id, who, what, detail)

    async def _evidence(self, kind: EvidenceKind, call: CallFacts, **payload: object) -> None:
        call.events.append(kind.value)
        await self.deps.evidence.append(kind, call_id=call.call_id, payload=payload)

    # ---- instructions ----

    async def _execute(self, session: CallSession, call: CallFacts, step: Instruction) -> Result:
        match step:
            case Speak():
                return await self._speak(session, call, step)
            case Gather():
                return await self._gather(session, call, step)
            case AskConsent():
                return await self._ask_consent(session, call, step)
            case Converse():
                return await self._converse(session, call, step)
            case TransferCall():
                return await self._transfer(session, call, step)
            case CallWebhook():
                return await self._webhook(call, step)
            case OpenCallbackTicket():
                return await self._ticket(session, call, step)
            case HangupCall():
                if step.goodbye is not None:
                    await self._speak(session, call, step.goodbye)
                self._note(call, "ivr", f"hangup {step.cause}")
                await session.hangup(step.cause)
                return Done()
        raise AssertionError(f"unknown instruction {step!r}")

    async def _audio(self, call: CallFacts, speak: Speak) -> str:
        if speak.audio is not None:
            return speak.audio
        assert speak.text is not None
        template = call.flow.prompts.get(speak.prompt_id)
        names = set(_PLACEHOLDER.findall(template.text or "")) if template else set()
        sensitive = bool(names - PUBLIC_VARIABLES)
        return str(await self._render(call, speak.text, sensitive=sensitive))

    async def _render(self, call: CallFacts, text: str, *, sensitive: bool) -> Path:
        try:
            return await self.deps.prompts.file_for(text, sensitive=sensitive, scratch=call.scratch)
        except Exception as exc:  # any engine failure: the caller must not hear silence
            raise PromptUnavailableError(f"TTS failed: {type(exc).__name__}") from exc

    async def _speak(
        self, session: CallSession, call: CallFacts, speak: Speak, *, menu: bool = False
    ) -> Played:
        source = await self._audio(call, speak)
        flags = speak.kind + ("" if speak.barge_in else ", no barge-in")
        self._note(call, "ivr", speak.text or speak.audio or "", f"{speak.prompt_id} [{flags}]")
        kind = prompt_kind(speak.kind, speak.prompt_id, menu=menu)
        response, broken = await self._play(
            session, call, source, speak.prompt_id, kind, barge_in=speak.barge_in
        )
        if not speak.barge_in:
            session.drain_dtmf()  # digits pressed meanwhile are ignored
        if speak.kind == "disclosure" and response == "FILE PLAYED" and not broken:
            await self._evidence(
                EvidenceKind.DISCLOSURE_PLAYED,
                call,
                prompt=speak.prompt_id,
                flow_version=call.flow.version,
                text_sm3=sm3(speak.text.encode()).hex() if speak.text else None,
                offset_ms=call.offset_ms(),
            )
        return Played(interrupted=broken or response != "FILE PLAYED")

    async def _play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        prompt_id: str,
        kind: PromptKind,
        *,
        barge_in: bool,
    ) -> tuple[str, bool]:
        """Play ``source``; in stream mode the call's audio decides barge-in meanwhile.
        Returns the playback's response and whether caller speech broke it off. A digit
        pressed over an interruptible prompt ends it (``playback_terminators``) and stays
        queued for the turn that follows (issue 13 item 1); over a disclosure or a risk warning
        it is ignored (invariant 4)."""
        interruptible = barge_in and kind not in NEVER_INTERRUPTIBLE
        await self._terminators(session, call, "any" if interruptible else "none")
        stream = call.stream
        if stream is None or stream.closed:
            return await session.play(source), False
        # told before the playback is sent: the audio clock is then not past its start; the
        # tag is unique per playback, so a late StopPrompt can never break a later prompt
        stream.prompts += 1
        tag = f"{prompt_id}#{stream.prompts}"
        stream.audio.prompt_started(tag, kind, barge_in)
        playing = asyncio.ensure_future(session.play(source))
        broken = False
        try:
            while not playing.done():
                getter = stream.next_event()
                racing: set[asyncio.Future[Any]] = {playing, getter}
                await asyncio.wait(racing, return_when=asyncio.FIRST_COMPLETED)
                if not getter.done():
                    break
                event = stream.take()
                if isinstance(event, StopPrompt):
                    if event.prompt_id == tag and not broken and kind not in NEVER_INTERRUPTIBLE:
                        broken = True
                        log.info("call %s: barge-in at node %s", call.call_id, call.last_node)
                        await session.api("uuid_break", f"{session.uuid} all")
                elif isinstance(event, SpeechIgnored):
                    log.info(
                        "call %s: caller spoke over the %s at node %s; it plays on",
                        call.call_id,
                        event.kind.value,
                        call.last_node,
                    )
                else:
                    stream.keep(event)
            response = await playing
        finally:
            if not playing.done():
                playing.cancel()
            stream.audio.prompt_finished()
        return response, broken

    async def _terminators(self, session: CallSession, call: CallFacts, digits: str) -> None:
        """Set ``playback_terminators`` when it changes (one ``set`` per change, not per prompt)."""
        if call.terminators != digits:
            await session.set_playback_terminators(digits)
            call.terminators = digits

    async def _listen(
        self,
        session: CallSession,
        call: CallFacts,
        timeout_s: float | None = None,
        state: ListenState = ListenState.CONVERSE,
        *,
        question: Question = Question.OTHER,
    ) -> Heard:
        """One caller turn, read by the consent policy after ``question``: DTMF pressed while
        listening wins; else ASR, then NLU. ``state`` tells the speech side what is expected
        (speech.context: end-pointing, biasing). A refusal closes the call here (invariant 6),
        except a no at the consent question, which the consent node routes through the flow."""
        turn, nlu = await self._hear_turn(session, call, timeout_s, state)
        rules = self.deps.compliance.rules_at(self.deps.clock())
        digits = turn.digits if isinstance(turn, Digits) else ""
        answer = decide_answer(
            CallerAnswer(nlu=nlu, digits=digits),
            AnswerContext(question, caller_identified=call.customer is not None),
            rules,
        )
        if isinstance(turn, Utterance) and nlu is not None:
            policy = rules.consent_policy
            confident = nlu.confidence >= policy.min_confidence.intent
            if not confident or nlu.intent in policy.unclassified_intents:
                turn = Utterance(turn.text, None)
        if answer.outcome is Outcome.REFUSED and (
            question is not Question.CONSENT or answer.reason is AnswerReason.REFUSAL_INTENT
        ):
            await self._refusal(session, call, reason="refused_contact", answer=answer)
        return Heard(turn, answer)

    async def _hear_turn(
        self, session: CallSession, call: CallFacts, timeout_s: float | None, state: ListenState
    ) -> tuple[Digits | Utterance | NoInput, NluResult | None]:
        if call.asr_down:
            digits = session.drain_dtmf() or await session.play_and_get_digits(
                "silence_stream://250", max_digits=1, tries=1, timeout_ms=6000, terminators=""
            )
            self._note(call, "caller", f"DTMF {digits}" if digits else "(no input)")
            return (Digits(digits) if digits else NoInput()), None
        if call.stream is not None:
            call.stream.audio.expect(expect(state))
            heard = await self._hear_streamed(session, call, timeout_s)
        else:
            heard = await self._hear_recorded(session, call)
        if isinstance(heard, Digits | NoInput):
            return heard, None
        text = heard
        if not text.strip():
            self._note(call, "caller", "(silence)")
            return NoInput(), None
        nlu = await self.deps.nlu.parse(text)
        self._note(call, "caller", text, f"intent {nlu.intent or '?'}")
        call.transcript_tail = text[-120:]
        return Utterance(text, nlu.intent), nlu

    def _asr_failed(self, call: CallFacts) -> NoInput:
        """Any ASR engine failure: DTMF only for the rest of the call."""
        call.asr_down = True
        self._note(call, "ivr", "speech recognition unavailable: DTMF only")
        return NoInput()

    async def _hear_recorded(self, session: CallSession, call: CallFacts) -> Digits | NoInput | str:
        """Record mode: ``record`` with silence detection, then ASR of the WAV."""
        cfg = self.deps.config
        early = session.drain_dtmf()  # pressed over the prompt just played: they count
        if early:
            self._note(call, "caller", f"DTMF {early}")
            return Digits(early)
        wav = call.scratch / f"turn-{call.offset_ms()}.wav"
        await session.record(
            str(wav), max_seconds=cfg.record_max_s, silence_seconds=cfg.record_silence_s
        )
        digits = session.drain_dtmf()
        if digits:
            self._note(call, "caller", f"DTMF {digits}")
            return Digits(digits)
        try:
            return await self.deps.listener.transcribe(wav) if wav.exists() else ""
        except Exception:  # any engine failure: fall back to DTMF for the rest of the call
            log.exception("call %s: ASR failed; DTMF only from now on", call.call_id)
            return self._asr_failed(call)

    async def _hear_streamed(
        self, session: CallSession, call: CallFacts, timeout_s: float | None
    ) -> Digits | NoInput | str:
        """Stream mode: the next recognised utterance (one that barged in included), unless a
        digit comes first or nobody speaks within ``timeout_s``."""
        stream = call.stream
        assert stream is not None
        cfg = self.deps.config
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (timeout_s if timeout_s is not None else cfg.listen_timeout_s)
        dtmf = asyncio.ensure_future(session.wait_for_dtmf(1))
        try:
            while True:
                if dtmf.done():
                    digits = dtmf.result() + session.drain_dtmf()  # raises on hang-up
                    self._note(call, "caller", f"DTMF {digits}")
                    return Digits(digits)
                if stream.finals:
                    final = stream.finals.popleft()
                    if isinstance(final, RecognitionFailed):
                        log.warning("call %s: ASR failed; DTMF only from now on", call.call_id)
                        return self._asr_failed(call)
                    if final.transcript.text.strip():
                        return final.transcript.text
                    continue  # noise without words: keep listening
                if stream.closed:
                    if session.is_hung_up:
                        raise CallEndedError(session.hangup_cause)
                    log.warning("call %s: audio fork ended; record mode", call.call_id)
                    call.stream = None
                    return await self._hear_recorded(session, call)
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return NoInput()
                getter = stream.next_event()
                racing: set[asyncio.Future[Any]] = {getter, dtmf}
                await asyncio.wait(racing, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    event = stream.take()
                    if isinstance(event, VadEvent) and event.kind is VadEventKind.SPEECH_START:
                        # the caller is talking: give the utterance time to end
                        deadline = max(deadline, loop.time() + cfg.record_max_s)
                    stream.keep(event)
        finally:
            if not dtmf.done():
                dtmf.cancel()

    async def _gather(self, session: CallSession, call: CallFacts, step: Gather) -> Result:
        if step.speech and not call.asr_down:
            await self._speak(session, call, step.prompt, menu=True)
            listened = await self._listen(
                session, call, step.timeout_s, ListenState.MENU, question=Question.MENU
            )
            heard = listened.turn
            if isinstance(heard, Digits):
                return Digits(heard.digits[: step.max_digits])
            return heard
        prompt = await self._audio(call, step.prompt)
        regex = f"[{re.escape(step.valid_digits)}]" if step.valid_digits else "\\d+"
        digits = await session.play_and_get_digits(
            prompt,
            min_digits=step.min_digits,
            max_digits=step.max_digits,
            tries=1,
            timeout_ms=int(step.timeout_s * 1000),
            terminators=step.terminator,
            regex=regex,
        )
        session.drain_dtmf()
        self._note(call, "caller", f"DTMF {digits}" if digits else "(no input)")
        return Digits(digits) if digits else NoInput()

    async def _ask_consent(
        self, session: CallSession, call: CallFacts, step: AskConsent
    ) -> ConsentAnswer:
        """Ask explicit consent; the consent policy reads each answer. An unclear one is asked
        again (never consent); a caller without a usable number cannot consent (no marketing)."""
        for _ in range(step.retries + 1):
            await self._speak(session, call, step.prompt)
            heard = await self._listen(
                session, call, step.timeout_s, ListenState.CONSENT, question=Question.CONSENT
            )
            answer = heard.answer
            if answer.outcome is Outcome.CONSENT_GRANTED and call.customer is not None:
                self._note(call, "ivr", f"consent granted ({step.purpose})")
                turn = heard.turn
                excerpt = turn.text if isinstance(turn, Utterance) else "DTMF consent"
                await self.deps.compliance.grant_consent(
                    call.customer,
                    purpose=step.purpose,
                    scope=step.scope,
                    channel="voice_ivr",
                    call_id=call.call_id,
                    recording_offset_ms=call.offset_ms(),
                    transcript_excerpt=excerpt,
                    decision=answer,
                )
                call.consent_state = "granted"
                return ConsentAnswer("granted")
            if answer.outcome is Outcome.REFUSED:
                call.consent_state = "refused"
                await self._record_refusal(
                    call, reason=f"{step.purpose}_consent_refused", answer=answer
                )
                return ConsentAnswer("refused")
            if answer.outcome is Outcome.CONSENT_UNRECORDABLE:
                self._note(call, "ivr", "consent cannot be recorded without a number: no marketing")
                call.consent_state = "unrecordable"
                return ConsentAnswer("no_answer")
        return ConsentAnswer("no_answer")

    async def _record_refusal(
        self, call: CallFacts, *, reason: str, answer: AnswerDecision | None = None
    ) -> None:
        """Invariant 6: the number goes to DNC durably before the call ends; a caller without a
        usable number is recorded as refusal evidence with why there is no DNC entry."""
        basis = answer.evidence() if answer is not None else {}
        await self._evidence(EvidenceKind.CONSENT_REFUSED, call, reason=reason, **basis)
        await self.deps.compliance.record_refusal(
            call.customer,
            source="call",
            reason=reason,
            actor="ivr",
            call_id=call.call_id,
            decision=answer,
        )

    async def _refusal(
        self, session: CallSession, call: CallFacts, *, reason: str, answer: AnswerDecision
    ) -> None:
        """A refusal heard anywhere: DNC first, then a polite close, then stop the flow."""
        await self._record_refusal(call, reason=reason, answer=answer)
        close = call.flow.prompts.get("refusal_close")
        if close is not None and close.text:
            text = close.text
            with contextlib.suppress(PromptUnavailableError):
                path = str(await self._render(call, text, sensitive=False))
                await self._play(
                    session, call, path, "refusal_close", PromptKind.INFO, barge_in=False
                )
        call.ended_reason = "refused"
        self._note(call, "ivr", "refusal: number added to DNC, call closed")
        await session.hangup("NORMAL_CLEARING")
        raise _CallOver

    async def _converse(self, session: CallSession, call: CallFacts, step: Converse) -> BotOutcome:
        deps = self.deps
        metadata = CallMetadata(
            call_id=call.call_id,
            institution=deps.config.institution,
            bot_id=deps.config.bot_id,
            purpose=call.purpose,
            campaign=call.campaign,
            caller_handle=await deps.bot.caller_handle(call.call_id, call.customer),
            extra={"disclosure_done": True, "flow": call.flow.name},
        )
        for _ in range(step.max_turns):
            heard = (await self._listen(session, call)).turn
            if isinstance(heard, Utterance):
                text = heard.text
            elif isinstance(heard, Digits):
                if heard.digits.startswith("0"):  # 0 always reaches a human
                    return BotOutcome("transfer", "general", 5, "caller_pressed_0")
                text = "/no_input"
            else:
                text = "/no_input"
            try:
                directives = await deps.bot.send(call.call_id, text, metadata)
            except DependencyUnavailableError:
                log.warning("call %s: bot unavailable; taking the fallback", call.call_id)
                self._note(call, "bot", "(unavailable: fallback branch)")
                return BotOutcome("failure")
            for directive in directives:
                if isinstance(directive, Say):
                    if directive.kind == "disclosure":
                        continue  # the flow already spoke it
                    flags = directive.kind + ("" if directive.barge_in else ", no barge-in")
                    self._note(call, "bot", directive.text, f"[{flags}]")
                    try:
                        await self._say_text(session, call, directive)
                    except PromptUnavailableError:
                        log.error("call %s: TTS failed for a bot reply", call.call_id)
                        return BotOutcome("failure")
                elif isinstance(directive, Transfer):
                    self._note(call, "bot", f"transfer {directive.queue}", directive.reason)
                    return BotOutcome(
                        "transfer", directive.queue, directive.priority, directive.reason
                    )
                elif isinstance(directive, Callback):
                    self._note(call, "bot", "callback requested", directive.requested or "")
                    await self._ticket(
                        session,
                        call,
                        OpenCallbackTicket(step.node, "general", directive.reason, None),
                    )
                elif isinstance(directive, Hangup):
                    self._note(call, "bot", f"hangup {directive.cause}", directive.outcome)
                    if directive.outcome in ("refused", "dnc"):
                        call.ended_reason = "refused"
                    if directive.dnc_recorded is False:
                        await self._record_refusal(call, reason="refused_in_bot")
                    return BotOutcome("hangup")
        return BotOutcome("hangup")

    async def _say_text(self, session: CallSession, call: CallFacts, say: Say) -> None:
        path = await self._render(call, say.text, sensitive=True)
        kind = prompt_kind(say.kind, "bot_" + say.kind)
        await self._play(session, call, str(path), f"bot_{say.kind}", kind, barge_in=say.barge_in)
        if not say.barge_in:
            session.drain_dtmf()

    async def _transfer(
        self, session: CallSession, call: CallFacts, step: TransferCall
    ) -> TransferOutcome:
        reply = await session.api(
            "callcenter_config", f"queue count agents {step.queue}@default Available"
        )
        body = reply.body.decode(errors="replace").strip() if reply.body else ""
        free = int(body) if body.isdigit() else 0
        await self._evidence(
            EvidenceKind.ESCALATED,
            call,
            queue=step.queue,
            priority=step.priority,
            reason=step.reason,
            agent_free=free > 0,
            source="ivr",
        )
        if free == 0:
            self._note(call, "ivr", f"no free agent in {step.queue}", "callback ticket next")
            return TransferOutcome(connected=False)
        if step.notice is not None:
            await self._speak(session, call, step.notice)
        self._note(
            call, "ivr", f"transfer → {step.queue}", f"priority {step.priority}, {step.reason}"
        )
        await session.enqueue(step.queue, priority=step.priority >= 8)
        call.ended_reason = f"transferred_{step.queue}"
        return TransferOutcome(connected=True)

    async def _webhook(self, call: CallFacts, step: CallWebhook) -> WebhookResult:
        try:
            data = await self.deps.webhooks.call(step.method, step.url, step.body, step.timeout_s)
        except DependencyUnavailableError as exc:
            log.warning("call %s: webhook at node %s failed: %s", call.call_id, step.node, exc)
            self._note(call, "ivr", f"webhook {step.node} failed", str(exc))
            return WebhookResult(ok=False)
        self._note(call, "ivr", f"webhook {step.node} ok", ", ".join(sorted(data)))
        return WebhookResult(ok=True, data=data)

    async def _ticket(
        self, session: CallSession, call: CallFacts, step: OpenCallbackTicket
    ) -> Done:
        if call.customer_number is not None:
            await self.deps.tickets.open(
                call_id=call.call_id,
                number=call.customer_number,
                queue=step.queue,
                reason=step.reason,
                now=self.deps.clock(),
            )
        await self._evidence(
            EvidenceKind.CALLBACK_SCHEDULED, call, queue=step.queue, reason=step.reason
        )
        self._note(call, "ivr", f"callback ticket ({step.queue})", step.reason)
        if step.notice is not None:
            await self._speak(session, call, step.notice)
        return Done()


def prompt_kind(kind: str, prompt_id: str, *, menu: bool = False) -> PromptKind:
    """What a flow or bot prompt is for barge-in: disclosures and risk warnings are locked
    whatever the node says (invariant 4)."""
    if kind == "disclosure":
        return PromptKind.DISCLOSURE
    if kind == "risk_warning" or prompt_id == "risk_warning":
        return PromptKind.RISK_WARNING
    if kind == "consent":
        return PromptKind.CONSENT_QUESTION
    return PromptKind.MENU if menu else PromptKind.INFO
