"""Quality inspection of one call, on the orchestrator's side: every bot sentence vetted before
it is synthesised, every turn kept in order, ASR finals passed on live, the call's turns handed
over at its end (:class:`flows.ports.SpeechInspection`, built by the composition root).

QA never breaks a call: any failure of the port is logged (call id only) and the call goes on;
a sentence QA could not vet is spoken as it is. The turns hold what the caller heard (the
fallback, never a blocked sentence) and what the caller said; they are never logged.
"""

from __future__ import annotations

import logging

from flows.call import CallDeps, CallFacts
from flows.ports import InspectedCall, SpokenTurn

log = logging.getLogger(__name__)


def inspected(deps: CallDeps, call: CallFacts) -> InspectedCall:
    return InspectedCall(
        call_id=call.call_id,
        purpose=call.purpose,
        flow=call.flow.name,
        campaign=call.campaign,
        bot_id=deps.config.bot_id,
        institution=deps.config.institution,
    )


def vet(deps: CallDeps, call: CallFacts, text: str, kind: str) -> str:
    """The words to synthesise for ``text``: itself, or QA's safe fallback."""
    try:
        return deps.qa.vet_bot_sentence(inspected(deps, call), text, kind, call.offset_ms())
    except Exception:  # QA failing never breaks a call
        log.exception("call %s: QA bot gate failed; the sentence is spoken", call.call_id)
        return text


def spoke(call: CallFacts, turn: SpokenTurn) -> None:
    """A bot turn as the caller heard it (after the gate)."""
    call.spoken.append(turn)


def heard(deps: CallDeps, call: CallFacts, speaker: str, text: str, start_ms: int) -> None:
    """An ASR final of the caller (or an agent): kept, and inspected live."""
    turn = SpokenTurn(speaker, text, start_ms, call.offset_ms())
    call.spoken.append(turn)
    try:
        deps.qa.heard(inspected(deps, call), turn)
    except Exception:  # QA failing never breaks a call
        log.exception("call %s: live QA failed for one final", call.call_id)


async def finished(deps: CallDeps, call: CallFacts) -> None:
    """The call is over: whole-call QA of its turns."""
    try:
        await deps.qa.call_finished(inspected(deps, call), tuple(call.spoken), call.started_at)
    except Exception:  # QA failing never breaks a call
        log.exception("call %s: post-call QA failed", call.call_id)
