"""Live QA of a human agent's leg (adapter): the agent's ASR finals during a call, as they come.

When a call is bridged to a human agent, the agent leg's audio is forked to the audio fork
server (``uuid_audio_fork <agent leg uuid> start ws://…/audio/<agent leg uuid> mono 8k
{"leg": "agent", "call_id": …, "agent_id": …, "offset_ms": …}``), whose VAD and ASR turn it
into :class:`speech.stream_server.Recognised` finals. :func:`follow_agent_leg` feeds each final
to :meth:`AgentLegQa.agent_said` (:class:`qa.call_port.CallInspection`) as the agent's turn with
its offsets into the call's recording (the leg's own, plus ``offset_ms``: when it was bridged):
a prohibited wording raises a live alert, published by the QA hooks' own task well within a
second, and the turn is part of the call's QA result. :func:`agent_leg_call` reads the call the
leg belongs to from the fork's metadata; :func:`watch_agent_leg` waits for the fork and follows
it. A final QA cannot take is logged (ids only) and skipped; nothing here touches the call.
Issuing the fork when mod_callcenter bridges an agent is :mod:`qa.agent_forks`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Protocol

from flows.ports import InspectedCall, SpokenTurn
from speech.stream_server import (
    AudioForkServer,
    CallAudio,
    Recognised,
    RecognitionFailed,
    StreamClosed,
)

log = logging.getLogger(__name__)
AGENT = "agent"


class AgentLegQa(Protocol):
    """Where an agent leg's finals go (:class:`qa.call_port.CallInspection`)."""

    def agent_said(self, call: InspectedCall, turn: SpokenTurn) -> None:
        """One final of the agent: inspected live, kept for the call's QA result."""
        ...


def agent_leg_call(metadata: Mapping[str, Any], leg_uuid: str) -> InspectedCall | None:
    """The call an agent leg's fork belongs to, from its metadata (``leg`` ``agent``;
    ``call_id``, ``agent_id``, and optionally ``purpose``, ``flow``, ``campaign``,
    ``institution``); ``None`` for any other fork (the caller's own)."""
    if str(metadata.get("leg", "")) != AGENT:
        return None

    def text(key: str) -> str | None:
        value = metadata.get(key)
        return str(value) if value not in (None, "") else None

    return InspectedCall(
        call_id=text("call_id") or leg_uuid,
        purpose=text("purpose") or "service",
        flow=text("flow") or "",
        campaign=text("campaign"),
        bot_id=text("agent_id") or "",
        institution=text("institution") or "",
    )


def leg_offset_ms(metadata: Mapping[str, Any]) -> int:
    """Where the agent leg's audio starts in the call's recording (``offset_ms``: when it was
    bridged), so a final's offsets are the recording's; 0 when not given or not a number."""
    try:
        return max(0, int(metadata.get("offset_ms", 0)))
    except (TypeError, ValueError):
        return 0


async def follow_agent_leg(
    audio: CallAudio, qa: AgentLegQa, call: InspectedCall, offset_ms: int = 0
) -> int:
    """Feed every ASR final of the agent leg ``audio`` to ``qa`` until the fork closes (the
    number of finals fed). A final QA cannot take is logged (ids only) and skipped."""
    fed = 0
    while True:
        event = await audio.events.get()
        if isinstance(event, StreamClosed):
            return fed
        if isinstance(event, RecognitionFailed):
            log.warning("call %s: agent leg ASR failed (%s)", call.call_id, event.reason)
            continue
        if not isinstance(event, Recognised) or not event.transcript.text.strip():
            continue
        spoken = event.utterance
        turn = SpokenTurn(
            AGENT,
            event.transcript.text,
            offset_ms + int(1000 * spoken.start_s),
            offset_ms + int(1000 * spoken.end_s),
        )
        try:
            qa.agent_said(call, turn)
            fed += 1
        except Exception:  # live QA failing never breaks a call
            log.exception("call %s: live QA of the agent leg failed for one final", call.call_id)


async def watch_agent_leg(
    server: AudioForkServer, leg_uuid: str, qa: AgentLegQa, timeout_s: float = 10.0
) -> int:
    """Wait for the agent leg's fork to connect, then :func:`follow_agent_leg` it (0 when it
    never connects or is not an agent leg)."""
    try:
        audio = await server.call(leg_uuid, timeout_s)
    except TimeoutError:
        log.warning("agent leg %s: no audio fork within %.0f s; no live QA", leg_uuid, timeout_s)
        return 0
    call = agent_leg_call(audio.metadata, leg_uuid)
    if call is None:
        log.warning("fork %s is not an agent leg; no live agent QA", leg_uuid)
        return 0
    return await follow_agent_leg(audio, qa, call, leg_offset_ms(audio.metadata))
