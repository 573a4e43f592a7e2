"""The dial permit: proof that the gate allowed and counted one attempt (invariant 1 by type).

Only :meth:`compliance.gate.Gate.check_and_permit` (``ComplianceService.check_and_permit``)
makes a :class:`DialPermit`: the constructor takes a module-private mint token and refuses
anything else, so code outside the gate cannot make one, and the only originate the product has
(:func:`campaigns.originate.originate_permitted`) takes a ``DialPermit`` as its argument:
``mypy`` shows that no call is originated without one.

A permit names the number the gate checked (a :class:`~ivr.phone.CustomerNumber`), the purpose,
campaign and attempt id it counted, the rules version and the consent mode, and when it was
issued. It is good for :data:`PERMIT_TTL_S` seconds (the gate's facts are only "at dial time"
for so long) and for one originate: :meth:`DialPermit.spend` marks it used, and a second spend
raises. A dialler that lost its permit (crash, expiry) asks the gate again with the same attempt
id: the gate's check-and-count is idempotent per attempt id, so the number is not counted twice,
and DNC is checked again.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from compliance.decision import Decision
from compliance.rules import ConsentMode
from ivr.errors import LocalProtocolError
from ivr.phone import CustomerNumber

PERMIT_TTL_S = 10.0
_MINT = object()


class PermitError(LocalProtocolError):
    """A permit was forged, spent twice, or used after it expired."""


class DialPermit:
    """One gated, counted attempt that may be originated once (see the module docstring).

    Not a frozen dataclass on purpose: it carries its one-use state. Its fields are read-only
    properties.
    """

    __slots__ = ("_decision", "_issued_at", "_number", "_spent")

    def __init__(
        self, decision: Decision, number: CustomerNumber, issued_at: datetime, *, mint: object
    ) -> None:
        if mint is not _MINT:
            raise PermitError("only the compliance gate issues dial permits")
        if not (decision.allowed and decision.counted and not decision.dry_run):
            raise PermitError("a permit needs an allowed, counted decision")
        self._decision = decision
        self._number = number
        self._issued_at = issued_at
        self._spent = False

    def __repr__(self) -> str:
        return (
            f"DialPermit(attempt={self.attempt_id!r}, campaign={self.campaign!r}, "
            f"purpose={self.purpose!r}, number={self._number.masked})"
        )

    @property
    def decision(self) -> Decision:
        return self._decision

    @property
    def number(self) -> CustomerNumber:
        return self._number

    @property
    def attempt_id(self) -> str:
        return self._decision.attempt_id

    @property
    def purpose(self) -> str:
        return self._decision.purpose

    @property
    def campaign(self) -> str | None:
        return self._decision.campaign

    @property
    def consent_mode(self) -> ConsentMode | None:
        return self._decision.consent_mode

    @property
    def rules_version(self) -> str:
        return self._decision.rules_version

    @property
    def issued_at(self) -> datetime:
        return self._issued_at

    @property
    def expires_at(self) -> datetime:
        return self._issued_at + timedelta(seconds=PERMIT_TTL_S)

    @property
    def spent(self) -> bool:
        return self._spent

    def spend(self, now: datetime) -> None:
        """Use the permit for its one originate; raises :class:`PermitError` when it was
        already used or has expired at ``now``."""
        if self._spent:
            raise PermitError(f"permit for attempt {self.attempt_id} already used")
        if now >= self.expires_at:
            raise PermitError(f"permit for attempt {self.attempt_id} expired")
        self._spent = True


def _issue(decision: Decision, number: CustomerNumber, issued_at: datetime) -> DialPermit:
    """For :mod:`compliance.gate` only."""
    return DialPermit(decision, number, issued_at, mint=_MINT)
