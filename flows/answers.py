"""Hearing the caller's answers: every turn read by the one consent/refusal policy
(:func:`compliance.consent_policy.decide_answer`), and a refusal heard anywhere acted on.

- DTMF pressed while listening wins; else ASR, then NLU (a DTMF-only fallback once ASR failed;
  when the NLU gives no intent, down or timed out, the rules' offline refusal phrases are read,
  :func:`compliance.consent_policy.offline_refusal`: a refusal is still heard, never a yes);
- a refusal closes the call (invariant 6): the number goes to DNC durably first (a caller
  without a usable number: refusal evidence saying why there is no DNC entry), then the polite
  ``refusal_close``, then the flow stops; the DNC write runs shielded from the call's task, so
  a call cut meanwhile (its connection lost, its maximum duration, a shutdown) still ends with
  the number on DNC; a no at the consent question is routed by the consent
  node instead;
- an answer the policy cannot read as a refusal or not (``NEEDS_CONFIRMATION``, a leaning no)
  gets the ``refusal_confirm`` prompt of the prompt table ("您是说不需要了，对吗？"), asked once:
  the answer to it decides; anything unclear after it is not an answer (and never consent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from compliance.consent_policy import (
    AnswerContext,
    AnswerDecision,
    AnswerReason,
    CallerAnswer,
    Confirm,
    NluResult,
    Outcome,
    Question,
    decide_answer,
    offline_refusal,
)
from flows import inspection
from flows.call import CallDeps, CallFacts, CallOver, Heard, PromptUnavailableError
from flows.interpreter import Digits, NoInput, Utterance
from flows.ports import TurnTaking
from flows.speaking import Speaker
from ivr.evidence import EvidenceKind
from speech.bargein import PromptKind
from speech.context import ListenState
from telephony.session import CallSession

log = logging.getLogger(__name__)

_REFUSALS_IN_FLIGHT: set[asyncio.Future[object]] = set()
"""DNC writes of heard refusals whose call task may be gone: held here until they are done."""


def _keep_until_done(write: asyncio.Future[object], call_id: str) -> None:
    """Hold ``write`` (asyncio keeps only weak references to tasks) and log its failure, if the
    call that awaited it was cancelled first (ids only)."""
    _REFUSALS_IN_FLIGHT.add(write)

    def done(future: asyncio.Future[object]) -> None:
        _REFUSALS_IN_FLIGHT.discard(future)
        if not future.cancelled() and future.exception() is not None:
            log.error(
                "call %s: the refusal's DNC write failed (%s)",
                call_id,
                type(future.exception()).__name__,
            )

    write.add_done_callback(done)


async def refusals_written(timeout_s: float = 10.0) -> int:
    """Wait (bounded) for the DNC writes of refusals still in flight (shutdown: before the
    compliance service closes); returns how many were still running after ``timeout_s``."""
    pending = set(_REFUSALS_IN_FLIGHT)
    if pending:
        _, still = await asyncio.wait(pending, timeout=timeout_s)
        return len(still)
    return 0


CONFIRM_PROMPT = "refusal_confirm"


class Answers:
    """Listens for one call's turns and reads them by the consent policy."""

    def __init__(self, deps: CallDeps, turns: TurnTaking, speaker: Speaker) -> None:
        self.deps = deps
        self.turns = turns
        self.speaker = speaker

    async def listen(
        self,
        session: CallSession,
        call: CallFacts,
        timeout_s: float | None = None,
        state: ListenState = ListenState.CONVERSE,
        *,
        question: Question = Question.OTHER,
    ) -> Heard:
        """One caller turn, read after ``question``; ``state`` tells the speech side what is
        expected (speech.context: end-pointing, biasing). A refusal closes the call here,
        except a no at the consent question, which the consent node routes through the flow."""
        heard = await self._read(session, call, timeout_s, state, question)
        needs = heard.answer.outcome is Outcome.NEEDS_CONFIRMATION
        if needs and heard.answer.confirm is Confirm.REFUSAL:
            heard = await self._confirm_refusal(session, call, heard, timeout_s)
        answer = heard.answer
        if answer.outcome is Outcome.REFUSED and (
            question is not Question.CONSENT or answer.reason is AnswerReason.REFUSAL_INTENT
        ):
            await self.refusal(session, call, reason="refused_contact", answer=answer)
        return heard

    async def _confirm_refusal(
        self, session: CallSession, call: CallFacts, heard: Heard, timeout_s: float | None
    ) -> Heard:
        """Ask once whether the caller means no; its answer decides (never consent)."""
        prompt = self.speaker.fixed_prompt(call, CONFIRM_PROMPT, call.last_node)
        if prompt is None:
            log.error(
                "call %s: no %r prompt; the answer is not taken", call.call_id, CONFIRM_PROMPT
            )
            return Heard(NoInput(), heard.answer)
        self.deps.note(
            call, "ivr", "unclear answer: confirming the refusal", code="call.confirming_refusal"
        )
        await self.speaker.speak(session, call, prompt)
        confirmed = await self._read(
            session, call, timeout_s, ListenState.CONSENT, Question.CONFIRM_REFUSAL
        )
        if confirmed.answer.outcome is Outcome.REFUSED:
            return confirmed
        return Heard(NoInput(), confirmed.answer)  # not a refusal, and not an answer either

    async def _read(
        self,
        session: CallSession,
        call: CallFacts,
        timeout_s: float | None,
        state: ListenState,
        question: Question,
    ) -> Heard:
        turn, nlu, clear = await self._hear_turn(session, call, timeout_s, state)
        rules = self.deps.compliance.rules_at(self.deps.clock())
        digits = turn.digits if isinstance(turn, Digits) else ""
        answer = decide_answer(
            CallerAnswer(
                nlu=nlu,
                digits=digits,
                heard_clearly=clear,
                text=turn.text if isinstance(turn, Utterance) else "",
            ),
            AnswerContext(question, caller_identified=call.customer is not None),
            rules,
        )
        if isinstance(turn, Utterance) and nlu is not None:
            policy = rules.consent_policy
            confident = nlu.confidence >= policy.min_confidence.intent
            if not confident or nlu.intent in policy.unclassified_intents:
                turn = Utterance(turn.text, None)
        return Heard(turn, answer)

    async def _hear_turn(
        self, session: CallSession, call: CallFacts, timeout_s: float | None, state: ListenState
    ) -> tuple[Digits | Utterance | NoInput, NluResult | None, bool]:
        """The turn, its NLU result, and whether the recogniser heard it clearly."""
        if call.asr_down:
            digits = session.drain_dtmf() or await session.play_and_get_digits(
                "silence_stream://250", max_digits=1, tries=1, timeout_ms=6000, terminators=""
            )
            self.deps.note_keys(call, digits)
            return (Digits(digits) if digits else NoInput()), None, True
        start = call.offset_ms()
        heard = await self.turns.hear(session, call, timeout_s, state)
        if isinstance(heard, Digits | NoInput):
            return heard, None, True
        text = heard.text
        if not text.strip():
            self.deps.note(call, "caller", "(silence)", code="call.silence")
            return NoInput(), None, True
        inspection.heard(self.deps, call, "caller", text, start)
        nlu = await self.deps.nlu.parse(text)
        how, heard_code = "", "call.heard"
        if nlu.intent is None:  # the NLU gave nothing (down, timed out): a refusal still counts
            policy = self.deps.compliance.rules_at(self.deps.clock()).consent_policy
            offline = offline_refusal(text, policy)
            if offline is not None:
                log.warning("call %s: no NLU intent; an offline refusal phrase heard", call.call_id)
                nlu, how, heard_code = offline, " (offline refusal phrase)", "call.heard_offline"
        unclear = "" if heard.clear else " (not heard clearly)"
        self.deps.note(
            call,
            "caller",
            text,
            f"intent {nlu.intent or '?'}{how}{unclear}",
            detail_code=heard_code + ("" if heard.clear else "_unclear"),
            params={"intent": nlu.intent or "?"},
        )
        call.transcript_tail = text[-120:]
        call.intent = nlu.intent or call.intent
        return Utterance(text, nlu.intent), nlu, heard.clear

    async def record_refusal(
        self, call: CallFacts, *, reason: str, answer: AnswerDecision | None = None
    ) -> None:
        """Invariant 6: the number goes to DNC durably before the call ends; a caller without a
        usable number is recorded as refusal evidence with why there is no DNC entry."""
        basis = answer.evidence() if answer is not None else {}
        await self.deps.record(EvidenceKind.CONSENT_REFUSED, call, reason=reason, **basis)
        write = asyncio.ensure_future(
            self.deps.compliance.record_refusal(
                call.customer,
                source="call",
                reason=reason,
                actor="ivr",
                call_id=call.call_id,
                decision=answer,
            )
        )
        _keep_until_done(write, call.call_id)
        await asyncio.shield(write)  # the call's task cancelled (cut, max duration): it goes on

    async def refusal(
        self, session: CallSession, call: CallFacts, *, reason: str, answer: AnswerDecision
    ) -> None:
        """A refusal heard anywhere: DNC first, then a polite close, then stop the flow."""
        await self.record_refusal(call, reason=reason, answer=answer)
        close = call.flow.prompts.get("refusal_close")
        if close is not None and close.text:
            with contextlib.suppress(PromptUnavailableError):
                path, spoken = await self.speaker.render(
                    call, close.text, sensitive=False, kind="prompt"
                )
                await self.speaker.play(
                    session,
                    call,
                    str(path),
                    "refusal_close",
                    PromptKind.INFO,
                    barge_in=False,
                    text=spoken,
                    qa="prompt",
                )
        call.ended_reason = "refused"
        self.deps.note(
            call, "ivr", "refusal: number added to DNC, call closed", code="call.refusal_closed"
        )
        await session.hangup("NORMAL_CLEARING")
        raise CallOver
