"""The bot node of a flow: caller turns go to the dialogue bot (Rasa) until one of its
directives asks for a transfer or a hangup.

Each :mod:`bot.directives` directive is acted on here: ``Say`` is spoken (not the disclosure:
the flow already spoke it), ``Transfer`` ends the node with a transfer, ``Callback`` opens a
callback ticket, ``Hangup`` ends it (a refusal the bot did not record goes to DNC here,
invariant 6). Pressing 0 always reaches a human. The bot down or slow, or TTS failing for a
reply, takes the node's fallback branch: never silence.
"""

from __future__ import annotations

import logging

from bot.client import CallMetadata
from bot.directives import Callback, Directive, Hangup, Say, Transfer
from flows.answers import Answers
from flows.call import CallDeps, CallFacts, PromptUnavailableError
from flows.handoff import Handoff
from flows.interpreter import BotOutcome, Converse, Digits, OpenCallbackTicket, Utterance
from flows.speaking import Speaker
from ivr.errors import DependencyUnavailableError
from ivr.metrics import BOT_LATENCY
from telephony.session import CallSession

log = logging.getLogger(__name__)


class Conversation:
    """Runs a flow's bot node on one call."""

    def __init__(
        self, deps: CallDeps, speaker: Speaker, answers: Answers, handoff: Handoff
    ) -> None:
        self.deps = deps
        self.speaker = speaker
        self.answers = answers
        self.handoff = handoff

    async def converse(self, session: CallSession, call: CallFacts, step: Converse) -> BotOutcome:
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
            heard = (await self.answers.listen(session, call)).turn
            if isinstance(heard, Utterance):
                text = heard.text
            elif isinstance(heard, Digits):
                if heard.digits.startswith("0"):  # 0 always reaches a human
                    return BotOutcome("transfer", "general", 5, "caller_pressed_0")
                text = "/no_input"
            else:
                text = "/no_input"
            try:
                with BOT_LATENCY.labels(stage="dialogue").time():
                    directives = await deps.bot.send(call.call_id, text, metadata)
            except DependencyUnavailableError:
                log.warning("call %s: bot unavailable; taking the fallback", call.call_id)
                deps.note(
                    call, "bot", "(unavailable: fallback branch)", code="call.bot_unavailable"
                )
                return BotOutcome("failure")
            for directive in directives:
                outcome = await self._act(session, call, step, directive)
                if outcome is not None:
                    return outcome
        return BotOutcome("hangup")

    async def _act(
        self, session: CallSession, call: CallFacts, step: Converse, directive: Directive
    ) -> BotOutcome | None:
        """One directive; an outcome when it ends the bot node."""
        note = self.deps.note
        if isinstance(directive, Say):
            if directive.kind == "disclosure":
                return None  # the flow already spoke it
            try:  # vetted by QA, noted and played (a prohibited reply: the safe fallback)
                await self.speaker.say_text(session, call, directive)
            except PromptUnavailableError:
                log.error("call %s: TTS failed for a bot reply", call.call_id)
                return BotOutcome("failure")
            return None
        if isinstance(directive, Transfer):
            note(call, "bot", f"transfer {directive.queue}", directive.reason)
            return BotOutcome("transfer", directive.queue, directive.priority, directive.reason)
        if isinstance(directive, Callback):
            note(call, "bot", "callback requested", directive.requested or "")
            ticket = OpenCallbackTicket(step.node, "general", directive.reason, None)
            await self.handoff.ticket(session, call, ticket)
            return None
        if isinstance(directive, Hangup):
            note(call, "bot", f"hangup {directive.cause}", directive.outcome)
            if directive.outcome in ("refused", "dnc"):
                call.ended_reason = "refused"
            if directive.dnc_recorded is False:
                await self.answers.record_refusal(call, reason="refused_in_bot")
            return BotOutcome("hangup")
        return None
