"""The call back: a ``service`` call placed through the compliance gate (adapter).

:class:`GatedCallbackDialler` asks the gate for a permit (``check_and_permit``: check and
count, ``purpose=service``, campaign ``callbacks``; the same atomic step every outbound call
takes, invariant 1) and originates only with it, through the product's one originate
(:func:`campaigns.originate.originate_permitted`) to the shipped dialplan's ``ivr_outbound``
entry with the leg variables the outbound flow reads and the attempt id as the leg's uuid, plus
the ticket id. A denial is returned with the gate's reasons (DNC, quiet hours, the daily
cap...), never dialled.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from agents.callbacks import CallbackAttempt
from campaigns.originate import Originator, OutboundRoute, originate_permitted
from compliance.decision import GateRequest
from compliance.gate import GateAnswer
from ivr.errors import IvrError
from ivr.phone import CustomerNumber


class PermitGate(Protocol):
    async def check_and_permit(self, request: GateRequest) -> GateAnswer: ...


class GatedCallbackDialler:
    """:class:`agents.callbacks.CallbackDialler`: a gate permit first, then the originate."""

    def __init__(
        self,
        gate: PermitGate,
        esl: Originator,
        *,
        endpoint: str,
        clock: Callable[[], datetime],
        flow: str = "outbound_notice",
        caller_id: str = "95588",
        originate_timeout_s: int = 30,
    ) -> None:
        self._gate = gate
        self._esl = esl
        self._route = OutboundRoute(
            endpoint=endpoint,
            flow=flow,
            caller_id=caller_id,
            originate_timeout_s=originate_timeout_s,
        )
        self._clock = clock

    async def call_back(
        self, number: CustomerNumber, *, ticket_id: str, queue: str
    ) -> CallbackAttempt:
        attempt_id = str(uuid.uuid4())
        answer = await self._gate.check_and_permit(
            GateRequest(number.e164, "service", attempt_id, campaign="callbacks")
        )
        if answer.permit is None:
            return CallbackAttempt("denied", ",".join(r.value for r in answer.decision.reasons))
        try:
            placed = await originate_permitted(
                self._esl,
                answer.permit,
                self._route,
                now=self._clock(),
                extra_variables={"ivr_callback_ticket": ticket_id},
            )
        except IvrError as exc:
            return CallbackAttempt("failed", type(exc).__name__, attempt_id)
        if not placed.ok:
            return CallbackAttempt("failed", placed.cause or "UNKNOWN", attempt_id)
        return CallbackAttempt("connected", "", attempt_id)
