"""Speaking to the caller: prompts and bot replies rendered (cached TTS) and played through the
call's turn port.

Disclosures and risk warnings cannot be interrupted (invariant 4): the digits pressed over them
are discarded and speech over them is ignored; a played disclosure is evidence. Over any other
prompt a digit ends the playback (``playback_terminators``) and counts as the next turn (issue
13 item 1). ``playback_terminators`` is set only when it changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.directives import Say
from flows.call import PUBLIC_VARIABLES, CallDeps, CallFacts, PromptUnavailableError
from flows.interpreter import Played, Speak, render
from flows.ports import TurnTaking
from ivr.crypto import sm3
from ivr.evidence import EvidenceKind
from speech.bargein import NEVER_INTERRUPTIBLE, PromptKind
from telephony.session import CallSession

_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


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


class Speaker:
    """Renders and plays one call's prompts."""

    def __init__(self, deps: CallDeps, turns: TurnTaking) -> None:
        self.deps = deps
        self.turns = turns

    def fixed_prompt(self, call: CallFacts, prompt_id: str, node: str) -> Speak | None:
        """A prompt of the table that no flow node asked for (callback notices...)."""
        prompt = call.flow.prompts.get(prompt_id)
        if prompt is None:
            return None
        variables = {
            **call.flow.flow.variables,
            "institution": self.deps.config.institution,
            "bot_id": self.deps.config.bot_id,
        }
        text = render(prompt.text, variables) if prompt.text is not None else None
        return Speak(node, prompt_id, text, prompt.audio, prompt.barge_in)

    async def audio(self, call: CallFacts, speak: Speak) -> str:
        """The file a prompt plays from (prompts with customer data never cached on disk)."""
        if speak.audio is not None:
            return speak.audio
        assert speak.text is not None
        template = call.flow.prompts.get(speak.prompt_id)
        names = set(_PLACEHOLDER.findall(template.text or "")) if template else set()
        sensitive = bool(names - PUBLIC_VARIABLES)
        return str(await self.render(call, speak.text, sensitive=sensitive))

    async def render(self, call: CallFacts, text: str, *, sensitive: bool) -> Path:
        try:
            return await self.deps.prompts.file_for(text, sensitive=sensitive, scratch=call.scratch)
        except Exception as exc:  # any engine failure: the caller must not hear silence
            raise PromptUnavailableError(f"TTS failed: {type(exc).__name__}") from exc

    async def speak(
        self, session: CallSession, call: CallFacts, speak: Speak, *, menu: bool = False
    ) -> Played:
        source = await self.audio(call, speak)
        flags = speak.kind + ("" if speak.barge_in else ", no barge-in")
        self.deps.note(call, "ivr", speak.text or speak.audio or "", f"{speak.prompt_id} [{flags}]")
        kind = prompt_kind(speak.kind, speak.prompt_id, menu=menu)
        response, broken = await self.play(
            session, call, source, speak.prompt_id, kind, barge_in=speak.barge_in
        )
        if speak.kind == "disclosure" and response == "FILE PLAYED" and not broken:
            await self.deps.record(
                EvidenceKind.DISCLOSURE_PLAYED,
                call,
                prompt=speak.prompt_id,
                flow_version=call.flow.version,
                text_sm3=sm3(speak.text.encode()).hex() if speak.text else None,
                offset_ms=call.offset_ms(),
            )
        return Played(interrupted=broken or response != "FILE PLAYED")

    async def say_text(self, session: CallSession, call: CallFacts, say: Say) -> None:
        """A bot reply (dynamic text: never cached on disk)."""
        path = await self.render(call, say.text, sensitive=True)
        kind = prompt_kind(say.kind, "bot_" + say.kind)
        await self.play(session, call, str(path), f"bot_{say.kind}", kind, barge_in=say.barge_in)

    async def play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        prompt_id: str,
        kind: PromptKind,
        *,
        barge_in: bool,
    ) -> tuple[str, bool]:
        """Play ``source``: the playback's response and whether caller speech broke it off.
        A digit pressed over an interruptible prompt ends it and stays queued for the turn
        that follows; over a disclosure or a risk warning it is discarded (invariant 4)."""
        interruptible = barge_in and kind not in NEVER_INTERRUPTIBLE
        await self._terminators(session, call, "any" if interruptible else "none")
        played = await self.turns.play(session, call, source, prompt_id, kind, barge_in)
        if not interruptible:
            session.drain_dtmf()  # digits pressed meanwhile are ignored
        return played

    async def _terminators(self, session: CallSession, call: CallFacts, digits: str) -> None:
        if call.terminators != digits:
            await session.set_playback_terminators(digits)
            call.terminators = digits
