"""The channel variables a call carries into the app (pure: names, values, no IO).

The dialler sets them at originate time (``{ivr_customer_number=...,ivr_flow=...}`` on the
leg, :meth:`LegVariables.as_variables`), a dialplan may set them for inbound numbers, and the
orchestrator reads them at connect (:meth:`LegVariables.from_variables`). One definition, so the
two sides agree on the names:

- ``ivr_customer_number``: the customer's number (customer data: never logged). On an outbound
  leg it is the only source of the customer number: the leg's destination number reads
  ``ivr_outbound`` after the dialplan transfer, and is never taken as one (issue 13 item 6).
- ``ivr_flow``: the flow to run (else the configured default).
- ``ivr_purpose``: the business purpose when it differs from the flow's (``marketing``...).
- ``ivr_campaign``, ``ivr_attempt_id``: the campaign and the gate's attempt id of this dial
  (the permit that counted it, invariant 9), carried into ``call_started`` evidence.

Set by the app before a transfer to a queue, and back with the channel after a queue timeout
(``cc_export_vars``): ``ivr_call_id`` and ``ivr_queue_reason``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

CUSTOMER_NUMBER = "ivr_customer_number"
FLOW = "ivr_flow"
PURPOSE = "ivr_purpose"
CAMPAIGN = "ivr_campaign"
ATTEMPT_ID = "ivr_attempt_id"
CALL_ID = "ivr_call_id"
QUEUE_REASON = "ivr_queue_reason"


@dataclass(frozen=True, slots=True)
class LegVariables:
    """What the dialler tells the app about one leg (``None``: not set)."""

    customer_number: str | None = None
    flow: str | None = None
    purpose: str | None = None
    campaign: str | None = None
    attempt_id: str | None = None

    def __repr__(self) -> str:  # the number is customer data
        return (
            f"LegVariables(flow={self.flow!r}, campaign={self.campaign!r}, "
            f"attempt_id={self.attempt_id!r}, number={'set' if self.customer_number else None})"
        )

    def as_variables(self) -> dict[str, str]:
        """The originate ``{...}`` variables (only those set)."""
        pairs = (
            (CUSTOMER_NUMBER, self.customer_number),
            (FLOW, self.flow),
            (PURPOSE, self.purpose),
            (CAMPAIGN, self.campaign),
            (ATTEMPT_ID, self.attempt_id),
        )
        return {name: value for name, value in pairs if value}

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> LegVariables:
        """Read them from a channel's variables (empty values are unset)."""

        def get(name: str) -> str | None:
            value = variables.get(name)
            return value.strip() or None if value is not None else None

        return cls(get(CUSTOMER_NUMBER), get(FLOW), get(PURPOSE), get(CAMPAIGN), get(ATTEMPT_ID))
