"""Asking for explicit consent (invariant 5): the consent question, the caller's answer read by
the consent policy, the consent recorded with its evidence, or the refusal recorded (DNC,
invariant 6). An unclear answer is asked again (never consent); a caller without a usable
number cannot consent (no marketing follows).
"""

from __future__ import annotations

from compliance.consent_policy import Outcome, Question
from flows.answers import Answers
from flows.call import CallDeps, CallFacts
from flows.interpreter import AskConsent, ConsentAnswer, Utterance
from flows.speaking import Speaker
from speech.context import ListenState
from telephony.session import CallSession


class ConsentAsker:
    """Runs a flow's consent node on one call."""

    def __init__(self, deps: CallDeps, speaker: Speaker, answers: Answers) -> None:
        self.deps = deps
        self.speaker = speaker
        self.answers = answers

    async def ask(self, session: CallSession, call: CallFacts, step: AskConsent) -> ConsentAnswer:
        for _ in range(step.retries + 1):
            await self.speaker.speak(session, call, step.prompt)
            heard = await self.answers.listen(
                session, call, step.timeout_s, ListenState.CONSENT, question=Question.CONSENT
            )
            answer = heard.answer
            if answer.outcome is Outcome.CONSENT_GRANTED and call.customer is not None:
                self.deps.note(
                    call,
                    "ivr",
                    f"consent granted ({step.purpose})",
                    code="call.consent_granted",
                    params={"purpose": step.purpose},
                )
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
                await self.answers.record_refusal(
                    call, reason=f"{step.purpose}_consent_refused", answer=answer
                )
                return ConsentAnswer("refused")
            if answer.outcome is Outcome.CONSENT_UNRECORDABLE:
                self.deps.note(
                    call,
                    "ivr",
                    "consent cannot be recorded without a number: no marketing",
                    code="call.consent_unrecordable",
                )
                call.consent_state = "unrecordable"
                return ConsentAnswer("no_answer")
        return ConsentAnswer("no_answer")
