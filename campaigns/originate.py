"""The product's one outbound originate: it takes a gate permit, so no call leaves ungated.

Usage (the dialler, and any other place that calls a customer, e.g. a ``service`` callback)::

    answer = await compliance.check_and_permit(
        GateRequest(number.e164, "service", attempt_id, campaign="callbacks"))
    if answer.permit is None:
        ...  # denied: answer.decision.reasons, answer.decision.retry_after
    else:
        result = await originate_permitted(esl, answer.permit, route, now=clock())

:func:`originate_permitted` spends the permit (one originate per permit, within its TTL: a
:class:`compliance.permit.PermitError` otherwise) and sends, through the inbound ESL client,
``bgapi originate {vars}<endpoint> ivr_outbound XML ivr`` with: ``origination_uuid`` = the
attempt id (so the leg, the gate's decision row, the attempt row and the evidence share one id),
``originate_timeout``, ``ignore_early_media=true``, the caller ID
(``origination_caller_id_number``/``_name``) and the leg variables the outbound flow reads
(:class:`flows.channel_vars.LegVariables`: customer number, flow, purpose, campaign, attempt
id). The number dialled is the permit's, never one the caller passes. It returns the
:class:`telephony.inbound.OriginateResult` (``ok`` once answered, else the hangup cause:
``USER_BUSY``, ``NO_ANSWER``, ``CALL_REJECTED``...); a lost ESL connection raises
:class:`telephony.errors.ConnectionDroppedError` (an ``IvrError``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import phonenumbers

from compliance.permit import DialPermit
from flows.channel_vars import LegVariables
from ivr.errors import LocalProtocolError
from telephony.esl.dialstring import Extension, OriginateTarget
from telephony.inbound import OriginateResult

OUTBOUND_EXTENSION = Extension("ivr_outbound", "XML", "ivr")
"""The shipped dialplan's outbound entry (``telephony/freeswitch/dialplan/ivr.xml``)."""

BGAPI_MARGIN_S = 15.0


class Originator(Protocol):
    """What :func:`originate_permitted` needs of the ESL client (``InboundClient`` is one)."""

    async def originate(
        self,
        endpoint: str,
        target: OriginateTarget = ...,
        *,
        variables: Mapping[str, str] | None = None,
        uuid: str | None = None,
        timeout_s: float = ...,
    ) -> OriginateResult: ...


@dataclass(frozen=True, slots=True)
class OutboundRoute:
    """How to reach customers: the endpoint template and what the leg is told.

    ``endpoint`` is a template with ``{e164}`` (``+8613812345678``), ``{digits}`` (the same
    without ``+``) or ``{national}`` (``13812345678``, ``02161234567``):
    ``sofia/gateway/carrier/{national}``.
    """

    endpoint: str
    flow: str
    caller_id: str
    caller_id_name: str | None = None
    originate_timeout_s: int = 30
    target: OriginateTarget = OUTBOUND_EXTENSION

    def __post_init__(self) -> None:
        if not any(f in self.endpoint for f in ("{e164}", "{digits}", "{national}")):
            raise LocalProtocolError("endpoint template needs {e164}, {digits} or {national}")
        if not 1 <= self.originate_timeout_s <= 300:
            raise LocalProtocolError("originate timeout must be 1-300 s")

    def endpoint_for(self, e164: str) -> str:
        parsed = phonenumbers.parse(e164, None)
        national = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)
        return self.endpoint.format(
            e164=e164,
            digits=e164.lstrip("+"),
            national="".join(ch for ch in national if ch.isdigit()),
        )

    def variables(self, permit: DialPermit) -> dict[str, str]:
        """The leg's channel variables for ``permit`` (customer data: never log them)."""
        leg = LegVariables(
            customer_number=permit.number.e164,
            flow=self.flow,
            purpose=permit.purpose,
            campaign=permit.campaign,
            attempt_id=permit.attempt_id,
        )
        values = {
            **leg.as_variables(),
            "origination_uuid": permit.attempt_id,
            "originate_timeout": str(self.originate_timeout_s),
            "ignore_early_media": "true",
            "origination_caller_id_number": self.caller_id,
        }
        if self.caller_id_name:
            values["origination_caller_id_name"] = self.caller_id_name
        return values


async def originate_permitted(
    client: Originator,
    permit: DialPermit,
    route: OutboundRoute,
    *,
    now: datetime,
    extra_variables: Mapping[str, str] | None = None,
) -> OriginateResult:
    """Originate the call ``permit`` allows (see the module docstring). Spends the permit.

    ``extra_variables`` add leg variables of the caller's own (``ivr_callback_ticket``...); they
    never override the route's (the number, the uuid, the purpose are the permit's).
    """
    variables = route.variables(permit)
    clash = set(extra_variables or {}) & set(variables)
    if clash:
        raise LocalProtocolError(f"extra leg variables may not override {sorted(clash)}")
    permit.spend(now)
    return await client.originate(
        route.endpoint_for(permit.number.e164),
        route.target,
        variables={**variables, **(extra_variables or {})},
        uuid=permit.attempt_id,
        timeout_s=route.originate_timeout_s + BGAPI_MARGIN_S,
    )
