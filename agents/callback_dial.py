"""The call back: a ``service`` call placed through the compliance gate (adapter).

:class:`GatedCallbackDialler` asks the gate to check and count the call (``purpose=service``,
campaign ``callbacks``; the same atomic step every outbound call takes, invariant 1); only an
allowed decision is originated, through the inbound ESL client to the shipped dialplan's
``ivr_outbound`` entry with the leg variables the outbound flow reads
(:class:`flows.channel_vars.LegVariables`) and the attempt id as the leg's uuid. A denial is
returned with the gate's reasons (DNC, quiet hours, the daily cap...), never dialled.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from agents.callbacks import CallbackAttempt
from compliance.decision import Decision, GateRequest
from flows.channel_vars import LegVariables
from ivr.errors import IvrError
from ivr.phone import CustomerNumber, national_digits
from telephony.esl.dialstring import Extension
from telephony.inbound import InboundClient

OUTBOUND = Extension("ivr_outbound", "XML", "ivr")


class Gate(Protocol):
    async def check_and_count(self, request: GateRequest) -> Decision: ...


class GatedCallbackDialler:
    """:class:`agents.callbacks.CallbackDialler`: gate first, then originate."""

    def __init__(
        self,
        gate: Gate,
        esl: InboundClient,
        *,
        endpoint: str,
        flow: str = "outbound_notice",
        caller_id: str = "95588",
        originate_timeout_s: int = 30,
    ) -> None:
        if "{national}" not in endpoint and "{e164}" not in endpoint:
            raise ValueError("endpoint needs {national} or {e164}")
        self._gate = gate
        self._esl = esl
        self._endpoint = endpoint
        self._flow = flow
        self._caller_id = caller_id
        self._timeout_s = originate_timeout_s

    async def call_back(
        self, number: CustomerNumber, *, ticket_id: str, queue: str
    ) -> CallbackAttempt:
        attempt_id = str(uuid.uuid4())
        decision = await self._gate.check_and_count(
            GateRequest(number.e164, "service", attempt_id, campaign="callbacks")
        )
        if not decision.allowed:
            return CallbackAttempt("denied", ",".join(r.value for r in decision.reasons))
        leg = LegVariables(
            customer_number=number.e164,
            flow=self._flow,
            purpose="service",
            campaign="callbacks",
            attempt_id=attempt_id,
        )
        variables = {
            **leg.as_variables(),
            "originate_timeout": str(self._timeout_s),
            "ignore_early_media": "true",
            "origination_caller_id_number": self._caller_id,
            "ivr_callback_ticket": ticket_id,
        }
        endpoint = self._endpoint.format(national=national_digits(number.e164), e164=number.e164)
        try:
            placed = await self._esl.originate(
                endpoint,
                OUTBOUND,
                variables=variables,
                uuid=attempt_id,
                timeout_s=self._timeout_s + 15,
            )
        except IvrError as exc:
            return CallbackAttempt("failed", type(exc).__name__, attempt_id)
        if not placed.ok:
            return CallbackAttempt("failed", placed.cause or "UNKNOWN", attempt_id)
        return CallbackAttempt("connected", "", attempt_id)
