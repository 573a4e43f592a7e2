"""The one way to keep a customer's phone number outside the clear (invariant 11).

A :class:`SealedNumber` is what a table stores for a number: its keyed blind index (HMAC-SM3 of
the E.164 form, for lookups), its masked form (``138****5678``, for display) and an SM4-GCM
ciphertext of the E.164 form under a fresh data key, that data key wrapped by the records
:class:`~records.keys.Keyring` (so master-key rotation covers it: :meth:`NumberSealer.rewrap`).
A context names the row the number belongs to (``callback|<ticket id>``,
``recording-number|<recording id>``, ``campaign-contact|<id>``) and is bound into both the key
wrap and the ciphertext, so a sealed number copied onto another row does not open.

The vault's recordings, the callback tickets and the campaign lists use it. It takes only a
:class:`~ivr.phone.CustomerNumber` (made at the edge by :func:`ivr.phone.customer_number`), so
a caller without a usable number never reaches it. :meth:`NumberSealer.unseal` decrypts and
audits nothing: a caller that reveals a number to a person names the actor and writes
evidence first (``Vault.search(reveal=True)``, ``CallbackTickets.reveal_number``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from ivr.crypto import Sealed, blind_index, sm4_gcm_decrypt, sm4_gcm_encrypt
from ivr.errors import IntegrityError
from ivr.phone import CustomerNumber
from ivr.settings import Settings
from records.keys import Keyring, WrappedKey


@dataclass(frozen=True, slots=True)
class SealedNumber:
    """A number as stored: lookup index, display form, and the sealed value with its key."""

    blind_index: str
    masked: str
    key_id: str
    wrapped_key: bytes
    ciphertext: bytes

    def __repr__(self) -> str:  # the ciphertext is not interesting in logs or tracebacks
        return f"SealedNumber({self.masked}, key {self.key_id})"

    @property
    def wrapped(self) -> WrappedKey:
        return WrappedKey(self.key_id, self.wrapped_key)

    def as_row(self) -> dict[str, str | bytes]:
        """The values of :func:`sealed_number_columns`."""
        return {
            "customer_bi": self.blind_index,
            "masked_number": self.masked,
            "key_id": self.key_id,
            "wrapped_key": self.wrapped_key,
            "number_sealed": self.ciphertext,
        }

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> SealedNumber:
        """The sealed number kept in a row's :func:`sealed_number_columns`."""
        return cls(
            blind_index=row["customer_bi"],
            masked=row["masked_number"],
            key_id=row["key_id"],
            wrapped_key=row["wrapped_key"],
            ciphertext=row["number_sealed"],
        )


def sealed_number_columns() -> list[sa.Column[Any]]:
    """The columns a table keeps one sealed number in (as the callback tickets do)."""
    return [
        sa.Column("customer_bi", sa.String(64), nullable=False),
        sa.Column("masked_number", sa.String(32), nullable=False),
        sa.Column("key_id", sa.String(32), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary, nullable=False),
        sa.Column("number_sealed", sa.LargeBinary, nullable=False),
    ]


class NumberSealer:
    """Seals, indexes and opens customer numbers with one key ring and one blind-index key."""

    def __init__(self, keyring: Keyring, blind_index_key: bytes) -> None:
        self._keyring = keyring
        self._bi_key = blind_index_key

    @classmethod
    def from_settings(cls, settings: Settings) -> NumberSealer:
        """The product's keys (refused in production unless configured; see settings)."""
        return cls(Keyring.from_settings(settings), settings.key_bytes("blind_index"))

    @property
    def keyring(self) -> Keyring:
        return self._keyring

    def blind_index(self, number: CustomerNumber) -> str:
        """The lookup key of ``number`` (the same everywhere the same blind-index key is used)."""
        return blind_index(self._bi_key, number.e164)

    def seal(self, number: CustomerNumber, context: str) -> SealedNumber:
        """``number`` sealed for the row named by ``context``."""
        aad = _aad(context)
        data_key = Keyring.new_data_key()
        wrapped = self._keyring.wrap(data_key, aad)
        sealed = sm4_gcm_encrypt(data_key, number.e164.encode("ascii"), aad=aad)
        return SealedNumber(
            blind_index=self.blind_index(number),
            masked=number.masked,
            key_id=wrapped.key_id,
            wrapped_key=wrapped.blob,
            ciphertext=sealed.to_bytes(),
        )

    def unseal(self, sealed: SealedNumber, context: str) -> CustomerNumber:
        """The clear number (authenticated). Audit before calling this for a person."""
        aad = _aad(context)
        data_key = self._keyring.unwrap(sealed.wrapped, aad)
        e164 = sm4_gcm_decrypt(data_key, Sealed.from_bytes(sealed.ciphertext), aad=aad)
        number = CustomerNumber(e164.decode("ascii"))
        if self.blind_index(number) != sealed.blind_index:
            raise IntegrityError("sealed number does not match its blind index")
        return number

    def rewrap(self, sealed: SealedNumber, context: str) -> SealedNumber:
        """The same sealed number with its data key under the current master key."""
        new = self._keyring.rewrap(sealed.wrapped, _aad(context))
        return SealedNumber(
            sealed.blind_index, sealed.masked, new.key_id, new.blob, sealed.ciphertext
        )


def _aad(context: str) -> bytes:
    return context.encode("utf-8")
