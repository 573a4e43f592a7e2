"""A list row's variables (the flow's ``{placeholders}``): sealed at rest, opened for its call.

The columns of a campaign list beyond number, name and time zone are what the outbound flow's
prompts say to that customer (``{card_tail}``, ``{due_date}``, ``{amount}``): account data, so
they are kept like the number (invariant 11's neighbour): :func:`seal_variables` turns a row's
values into ``sm4:<key id>:<wrapped data key>:<ciphertext>`` (base64) for the
``campaign_contacts.variables`` column, the JSON SM4-GCM-sealed under a fresh data key that the
records key ring wraps (:mod:`records.sealed_value`), both bound to the contact's id (a value
copied onto another row does not open). :func:`open_variables` reverses it (and reads rows
stored before sealing, plain JSON).

:class:`ContactVariables` is the outbound call's lookup (the
:class:`flows.ports.ListVariables` port, wired by ``flows/app.py``): the leg's attempt id
(``ivr_attempt_id``, set by the dialler from the gate's permit) names the attempt, the attempt its
contact, and the contact's values fill that call's prompts. Nothing here logs a value.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping

import sqlalchemy as sa

from campaigns.tables import attempts, contacts
from ivr.errors import IntegrityError
from records.sealed_number import NumberSealer
from records.sealed_value import PREFIX, open_value, seal_value


def _aad(contact_id: str) -> bytes:
    return f"campaign-contact-vars|{contact_id}".encode()


def seal_variables(sealer: NumberSealer, contact_id: str, values: Mapping[str, str]) -> str:
    """The column value for ``values`` of contact ``contact_id`` (``{}`` when there are none)."""
    if not values:
        return "{}"
    plain = json.dumps(dict(values), ensure_ascii=False).encode("utf-8")
    return seal_value(sealer.keyring, _aad(contact_id), plain)


def open_variables(sealer: NumberSealer, contact_id: str, stored: str) -> dict[str, str]:
    """The values :func:`seal_variables` stored (authenticated; raises ``IntegrityError``)."""
    if not stored.startswith(PREFIX):
        plain = json.loads(stored or "{}")  # a row stored before values were sealed
    else:
        text = open_value(sealer.keyring, _aad(contact_id), stored, what="list variables")
        plain = json.loads(text.decode("utf-8"))
    if not isinstance(plain, dict):
        raise IntegrityError("list variables are not an object")
    return {str(k): str(v) for k, v in plain.items()}


class ContactVariables:
    """The list values of the contact an attempt dials (see the module docstring)."""

    def __init__(self, engine: sa.Engine, sealer: NumberSealer) -> None:
        self.engine = engine
        self.sealer = sealer

    def read(self, attempt_id: str) -> dict[str, str]:
        """The values for ``attempt_id`` (empty when it is not a campaign attempt)."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(contacts.c.id, contacts.c.variables)
                .join(attempts, attempts.c.contact_id == contacts.c.id)
                .where(attempts.c.id == attempt_id)
            ).first()
        if row is None:
            return {}
        return open_variables(self.sealer, row.id, row.variables)

    async def for_attempt(self, attempt_id: str) -> dict[str, str]:
        return await asyncio.to_thread(self.read, attempt_id)
