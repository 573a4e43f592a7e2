"""The call orchestrator: one flow drives one call through telephony, speech, bot, compliance
and records.

For each call (a :class:`telephony.session.CallSession` from the outbound ESL server) it picks the
active flow version (kept for the whole call), answers, makes sure the call has its one
recording, opens the call's turn port (:mod:`flows.turns`: record or stream mode), runs the
:class:`flows.interpreter.FlowRun` step machine and hands each instruction to the module that
does it:

- prompts and bot replies: :mod:`flows.speaking` (disclosures and risk warnings cannot be
  interrupted, invariant 4; a played disclosure is evidence);
- caller turns read by the consent policy, refusals acted on: :mod:`flows.answers` (invariant 6);
- consent: :mod:`flows.consent_steps` (invariant 5); the bot: :mod:`flows.conversation`;
- transfers, callback tickets, webhooks, a call back from a queue timeout: :mod:`flows.handoff`
  (invariant 7);
- menus: here (DTMF ``play_and_get_digits``, or a spoken turn where speech is allowed);
- quality inspection: :mod:`flows.inspection` (every bot sentence vetted before synthesis, ASR
  finals inspected live, whole-call QA when the call ends, whatever ended it).

One recording per call (invariant 10): the dialplan's ``record_session`` when it names its file
(``ivr_recording_path``), else the app's own, started before the first prompt. At the end
``call_ended`` evidence is written, the channel is let go (``exit``: FreeSWITCH does not keep it
lingering behind the after-call work), then the recording is sealed into the vault (which
removes the clear file) and the whole-call QA runs; the server waits for that work (a drain
too). A caller hanging up at any moment ends the flow cleanly.

Logs carry the call id, flow and node only: never numbers, digits or transcripts.
"""

from __future__ import annotations

import contextlib
import logging
import re
import shutil
import time
from datetime import datetime
from pathlib import Path

from compliance.consent_policy import Question
from flows import inspection
from flows.answers import Answers
from flows.call import (
    PUBLIC_VARIABLES,
    CallDeps,
    CallFacts,
    CallOver,
    OrchestratorConfig,
    PromptUnavailableError,
    call_report,
    tell_floor,
)
from flows.channel_vars import LegVariables
from flows.consent_steps import ConsentAsker
from flows.conversation import Conversation
from flows.handoff import Handoff, came_back_abandoned, came_back_for_a_callback
from flows.interpreter import (
    AskConsent,
    CallWebhook,
    Converse,
    Digits,
    Done,
    FlowRun,
    Gather,
    HangupCall,
    Instruction,
    NoInput,
    OpenCallbackTicket,
    Result,
    Speak,
    TransferCall,
)
from flows.ports import SpokenTurn, TurnTaking
from flows.speaking import Speaker, prompt_kind, qa_kind
from flows.turns import RecordedTurns, open_turns
from ivr.errors import IvrError
from ivr.evidence import EvidenceKind
from ivr.metrics import CALLS_ACTIVE, CALLS_TOTAL
from ivr.phone import customer_number
from speech.context import ListenState
from telephony.call_control import CallControl
from telephony.errors import CallEndedError
from telephony.session import CallSession

__all__ = [
    "PUBLIC_VARIABLES",
    "CallDeps",
    "CallFacts",
    "CallOrchestrator",
    "OrchestratorConfig",
    "PromptUnavailableError",
    "prompt_kind",
]

log = logging.getLogger(__name__)


class CallParts:
    """The steps of one call, sharing its turn port and call control."""

    def __init__(self, deps: CallDeps, turns: TurnTaking, control: CallControl) -> None:
        self.turns = turns
        self.speaker = Speaker(deps, turns)
        self.answers = Answers(deps, turns, self.speaker)
        self.handoff = Handoff(deps, self.speaker, control)
        self.consent = ConsentAsker(deps, self.speaker, self.answers)
        self.conversation = Conversation(deps, self.speaker, self.answers, self.handoff)


class CallOrchestrator:
    """A :class:`telephony.handler.CallHandler` running the designer's flows."""

    def __init__(self, deps: CallDeps) -> None:
        self.deps = deps

    async def __call__(self, session: CallSession) -> None:
        if session.is_callback_return or session.is_abandoned_return:
            await self._after_queue(session)
            return
        call = self._call_facts(session)
        log.info("call %s: flow %s@%s", call.call_id, call.flow.name, call.flow.version)
        CALLS_ACTIVE.inc()
        CALLS_TOTAL.labels(direction=call.direction).inc()
        control = CallControl(session)
        turns: TurnTaking = RecordedTurns(self.deps)
        try:
            turns = await self._connect(session, call, control)
            parts = CallParts(self.deps, turns, control)
            try:
                await self._run(session, call, parts)
            except PromptUnavailableError:
                log.error(
                    "call %s: TTS unavailable at %s; handing to a human",
                    call.call_id,
                    call.last_node,
                )
                await parts.handoff.emergency_human(session, call)
        except CallEndedError:
            call.ended_reason = "caller_hangup"
            log.info("call %s: caller hung up at node %s", call.call_id, call.last_node)
        except CallOver:
            pass
        finally:
            try:
                await self._finish(session, call, turns)
            finally:
                CALLS_ACTIVE.dec()

    # ---- call lifecycle ----

    def _call_facts(self, session: CallSession, *, part: str = "") -> CallFacts:
        cfg = self.deps.config
        leg = LegVariables.from_variables(session.channel_variables)
        version = self.deps.registry.get(leg.flow or cfg.default_flow)
        direction = version.flow.direction
        # outbound: only the dialler's variable names the customer; the destination number of
        # a leg transferred to ivr_outbound is "ivr_outbound", never a customer number
        raw = leg.customer_number
        if raw is None and direction == "inbound":
            raw = session.caller_number
        scratch = cfg.work_dir / "calls" / f"{session.uuid}{part}"
        scratch.mkdir(parents=True, exist_ok=True)
        # invariant 10: one recording per call. The dialplan's record_session (it names its
        # file in ivr_recording_path) is it when there is one; else the app starts its own.
        dialplan_file = session.recording_path
        own = cfg.work_dir / "recordings" / f"{session.uuid}.wav"
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
            recording=Path(dialplan_file) if dialplan_file else own,
            own_recording=not dialplan_file,
            scratch=scratch,
        )

    async def _connect(
        self, session: CallSession, call: CallFacts, control: CallControl
    ) -> TurnTaking:
        """Answer, make sure the call is recorded before the first prompt, open its turns."""
        await session.answer()
        await session.set_variable("playback_terminators", "none")
        if call.own_recording:  # both legs, caller left, IVR right
            call.recording.parent.mkdir(parents=True, exist_ok=True)
            await session.set_variable("RECORD_STEREO", "true")
            await session.record_session(str(call.recording))
        return await open_turns(self.deps, session, call, control)

    async def _run(self, session: CallSession, call: CallFacts, parts: CallParts) -> None:
        deps = self.deps
        await deps.record(
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
            **await self._list_values(call),  # the app's own names below always win
            "institution": deps.config.institution,
            "bot_id": deps.config.bot_id,
            "call_id": call.call_id,
            "caller_index": "",
        }
        run = FlowRun(call.flow.flow, call.flow.prompts, variables, consent_on_file=consent_on_file)
        instruction: Instruction | None = run.start(deps.clock())
        while instruction is not None:
            call.last_node = instruction.node
            call.path.append(instruction.node)
            result = await self._execute(session, call, parts, instruction)
            instruction = run.resume(result, deps.clock())

    async def _list_values(self, call: CallFacts) -> dict[str, str]:
        """An outbound campaign call's list row (its prompts' ``{placeholders}``); never logged.
        Unreadable: the flow's own defaults stand (the call goes on)."""
        lookup = self.deps.list_variables
        if lookup is None or call.direction != "outbound" or call.attempt_id is None:
            return {}
        try:
            return dict(await lookup.for_attempt(call.attempt_id))
        except Exception as exc:  # noqa: BLE001 - a missing value is not worth the call
            log.warning("call %s: list values not read (%s)", call.call_id, type(exc).__name__)
            return {}

    async def _after_queue(self, session: CallSession) -> None:
        """A call the ``callback_ticket`` extension brought back after its queue timed out: the
        same call continues (:meth:`Handoff.after_queue`), it does not start again."""
        call = self._call_facts(session, part="-after-queue")
        parts = CallParts(self.deps, RecordedTurns(self.deps), CallControl(session))
        try:
            await parts.handoff.after_queue(session, call)
        except CallEndedError:
            log.info("call %s: caller hung up before the callback notice ended", call.call_id)
        except PromptUnavailableError:
            with contextlib.suppress(CallEndedError):
                await session.hangup("NORMAL_CLEARING")
        finally:
            shutil.rmtree(call.scratch, ignore_errors=True)

    async def _finish(self, session: CallSession, call: CallFacts, turns: TurnTaking) -> None:
        await turns.close(session)
        with contextlib.suppress(Exception):
            if not session.is_hung_up and not session.released:
                await session.hangup("NORMAL_CLEARING")
        if session.released:
            # handed to a human queue: the recording ends when the caller hangs up there
            with contextlib.suppress(Exception):
                await session.wait_hangup(self.deps.config.max_call_s)
            if came_back_for_a_callback(session):
                call.ended_reason = "queue_timeout_callback"
            elif came_back_abandoned(session):
                call.ended_reason = "abandoned"
        with contextlib.suppress(Exception):
            await session.wait_finished(3.0)
        ended_at = self.deps.clock()
        await self.deps.record(
            EvidenceKind.CALL_ENDED,
            call,
            reason=call.ended_reason,
            last_node=call.last_node,
            duration_ms=call.offset_ms(),
        )
        if session.is_hung_up:
            # the channel is gone and its end recorded: FreeSWITCH frees it now, not after the
            # recording is sealed and the call's QA has run (under load that work waits its turn)
            await session.let_go()  # bounded; a connection already gone is fine
        recorded = call.recording.exists()
        await self._seal_recording(call, ended_at)
        await inspection.finished(self.deps, call)  # whole-call QA; never raises
        if self.deps.floor is not None:
            await tell_floor(self.deps.floor.call_finished(call_report(call, ended_at, recorded)))
        shutil.rmtree(call.scratch, ignore_errors=True)
        log.info("call %s ended (%s)", call.call_id, call.ended_reason)

    async def _seal_recording(self, call: CallFacts, ended_at: datetime) -> None:
        """Invariant 10: the call's one recording into the vault; the vault removes the clear
        file once its sealed copy verifies."""
        if self.deps.recordings is None:
            return
        if not call.recording.exists():
            log.error("call %s: its recording is missing (shared recordings dir?)", call.call_id)
            return
        try:
            await self.deps.recordings.store(call.recording, call, ended_at)
        except IvrError:
            log.exception("call %s: recording not stored", call.call_id)

    # ---- instructions ----

    async def _execute(
        self, session: CallSession, call: CallFacts, parts: CallParts, step: Instruction
    ) -> Result:
        match step:
            case Speak():
                return await parts.speaker.speak(session, call, step)
            case Gather():
                return await self._gather(session, call, parts, step)
            case AskConsent():
                return await parts.consent.ask(session, call, step)
            case Converse():
                return await parts.conversation.converse(session, call, step)
            case TransferCall():
                return await parts.handoff.transfer(session, call, step)
            case CallWebhook():
                return await parts.handoff.webhook(call, step)
            case OpenCallbackTicket():
                return await parts.handoff.ticket(session, call, step)
            case HangupCall():
                if step.goodbye is not None:
                    await parts.speaker.speak(session, call, step.goodbye)
                self.deps.note(
                    call,
                    "ivr",
                    f"hangup {step.cause}",
                    code="call.hangup",
                    params={"cause": step.cause},
                )
                await session.hangup(step.cause)
                return Done()
        raise AssertionError(f"unknown instruction {step!r}")

    async def _gather(
        self, session: CallSession, call: CallFacts, parts: CallParts, step: Gather
    ) -> Result:
        """A menu: spoken or pressed where speech is allowed (a digit over the prompt counts),
        else DTMF through ``play_and_get_digits``."""
        if step.speech and not call.asr_down:
            await parts.speaker.speak(session, call, step.prompt, menu=True)
            listened = await parts.answers.listen(
                session, call, step.timeout_s, ListenState.MENU, question=Question.MENU
            )
            heard = listened.turn
            if isinstance(heard, Digits):
                return Digits(heard.digits[: step.max_digits])
            return heard
        prompt, spoken = await parts.speaker.audio(call, step.prompt)
        regex = f"[{re.escape(step.valid_digits)}]" if step.valid_digits else "\\d+"
        start = call.offset_ms()
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
        kind = qa_kind(step.prompt.kind, step.prompt.prompt_id)
        inspection.spoke(call, SpokenTurn("bot", spoken, start, call.offset_ms(), kind=kind))
        self.deps.note_keys(call, digits)
        return Digits(digits) if digits else NoInput()
