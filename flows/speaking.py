"""Speaking to the caller: prompts and bot replies rendered (cached TTS) and played through the
call's turn port. Every text is vetted by QA before it is synthesised (:mod:`flows.inspection`:
a prohibited sentence is replaced by the safe fallback) and every played turn is kept for QA.

Disclosures and risk warnings cannot be interrupted (invariant 4): the digits pressed over them
are discarded and speech over them is ignored; a played disclosure is evidence. Over any other
prompt a digit ends the playback (``playback_terminators``) and counts as the next turn (issue
13 item 1). ``playback_terminators`` is set only when it changes.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.directives import Say
from flows import inspection
from flows.call import PUBLIC_VARIABLES, CallDeps, CallFacts, PromptUnavailableError
from flows.interpreter import Played, Speak, render
from flows.ports import SpokenTurn, TurnTaking
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


def qa_kind(kind: str, prompt_id: str) -> str:
    """The kind of a spoken turn for QA's mandatory-statement checks."""
    return "risk_warning" if prompt_id == "risk_warning" else kind


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

    async def audio(self, call: CallFacts, speak: Speak) -> tuple[str, str]:
        """The file a prompt plays from (prompts with customer data never cached on disk) and
        the words it speaks (what QA let through; a recorded file's text as the flow gives it)."""
        if speak.audio is not None:
            return speak.audio, speak.text or ""
        assert speak.text is not None
        template = call.flow.prompts.get(speak.prompt_id)
        names = set(_PLACEHOLDER.findall(template.text or "")) if template else set()
        sensitive = bool(names - PUBLIC_VARIABLES)
        path, spoken = await self.render(
            call, speak.text, sensitive=sensitive, kind=qa_kind(speak.kind, speak.prompt_id)
        )
        return str(path), spoken

    async def render(
        self, call: CallFacts, text: str, *, sensitive: bool, kind: str
    ) -> tuple[Path, str]:
        """Synthesise ``text`` once QA vetted it: the file and the words it speaks (QA's safe
        fallback instead of a prohibited sentence, which is never synthesised)."""
        spoken = inspection.vet(self.deps, call, text, kind)
        try:
            path = await self.deps.prompts.file_for(
                spoken, sensitive=sensitive, scratch=call.scratch
            )
        except Exception as exc:  # any engine failure: the caller must not hear silence
            raise PromptUnavailableError(f"TTS failed: {type(exc).__name__}") from exc
        return path, spoken

    async def speak(
        self, session: CallSession, call: CallFacts, speak: Speak, *, menu: bool = False
    ) -> Played:
        source, spoken = await self.audio(call, speak)
        flags = speak.kind + ("" if speak.barge_in else ", no barge-in")
        self.deps.note(
            call,
            "ivr",
            spoken or speak.audio or "",
            f"{speak.prompt_id} [{flags}]",
            detail_code="call.prompt" + ("" if speak.barge_in else "_no_barge_in"),
            params={"prompt": speak.prompt_id, "kind": speak.kind},
        )
        kind = prompt_kind(speak.kind, speak.prompt_id, menu=menu)
        response, broken = await self.play(
            session,
            call,
            source,
            speak.prompt_id,
            kind,
            barge_in=speak.barge_in,
            text=spoken,
            qa=qa_kind(speak.kind, speak.prompt_id),
        )
        if speak.kind == "disclosure" and response == "FILE PLAYED" and not broken:
            await self.deps.record(
                EvidenceKind.DISCLOSURE_PLAYED,
                call,
                prompt=speak.prompt_id,
                flow_version=call.flow.version,
                text_sm3=sm3(spoken.encode()).hex() if spoken else None,
                offset_ms=call.offset_ms(),
            )
        return Played(interrupted=broken or response != "FILE PLAYED")

    async def say_text(self, session: CallSession, call: CallFacts, say: Say) -> None:
        """A bot reply (dynamic text: never cached on disk), vetted by QA first."""
        path, spoken = await self.render(call, say.text, sensitive=True, kind=say.kind)
        flags = say.kind + ("" if say.barge_in else ", no barge-in")
        self.deps.note(
            call,
            "bot",
            spoken,
            f"[{flags}]",
            detail_code="call.bot_said" + ("" if say.barge_in else "_no_barge_in"),
            params={"kind": say.kind},
        )
        kind = prompt_kind(say.kind, "bot_" + say.kind)
        await self.play(
            session,
            call,
            str(path),
            f"bot_{say.kind}",
            kind,
            barge_in=say.barge_in,
            text=spoken,
            qa=say.kind,
        )

    async def play(
        self,
        session: CallSession,
        call: CallFacts,
        source: str,
        prompt_id: str,
        kind: PromptKind,
        *,
        barge_in: bool,
        text: str,
        qa: str,
    ) -> tuple[str, bool]:
        """Play ``source`` (which speaks ``text``, a QA turn of kind ``qa``): the playback's
        response and whether caller speech broke it off. A digit pressed over an interruptible
        prompt ends it and stays queued for the turn that follows; over a disclosure or a risk
        warning it is discarded (invariant 4)."""
        interruptible = barge_in and kind not in NEVER_INTERRUPTIBLE
        await self._terminators(session, call, "any" if interruptible else "none")
        call.talked_over = False
        start = call.offset_ms()
        response, broken = await self.turns.play(session, call, source, prompt_id, kind, barge_in)
        if not interruptible:
            session.drain_dtmf()  # digits pressed meanwhile are ignored
        inspection.spoke(
            call,
            SpokenTurn(
                "bot",
                text,
                start,
                call.offset_ms(),
                kind=qa,
                cut_off=broken or response != "FILE PLAYED",
                talked_over=call.talked_over,
            ),
        )
        return response, broken

    async def _terminators(self, session: CallSession, call: CallFacts, digits: str) -> None:
        if call.terminators != digits:
            await session.set_playback_terminators(digits)
            call.terminators = digits
