"""A recording's keys: its SM4 data key, and its customer number sealed one way.

Every recording has its own data key, wrapped by the key ring under the recording id. The
customer number, when the call has one, is a :class:`records.sealed_number.SealedNumber` under
the context ``recording-number|<recording id>`` and fills the ``customer_*`` columns; a call
without a usable number fills none of them. Rows written before migration ``records_0002`` have
their number sealed under the recording's data key (``customer_key_id`` NULL); they still open.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.crypto import Sealed, sm4_gcm_decrypt
from ivr.errors import ConfigError
from ivr.phone import CustomerNumber
from records.keys import Keyring, WrappedKey
from records.sealed_number import NumberSealer, SealedNumber

NO_NUMBER: Mapping[str, Any] = {
    "customer_bi": None,
    "customer_masked": None,
    "customer_enc": None,
    "customer_key_id": None,
    "customer_wrapped_key": None,
}


class RecordingKeys:
    """Data keys and sealed customer numbers of recordings (one key ring, one index key)."""

    def __init__(self, keyring: Keyring, numbers: NumberSealer) -> None:
        self._keyring = keyring
        self._numbers = numbers

    def new_data_key(self, recording_id: str) -> tuple[bytes, WrappedKey]:
        data_key = Keyring.new_data_key()
        return data_key, self._keyring.wrap(data_key, recording_id.encode("ascii"))

    def data_key(self, row: Mapping[str, Any]) -> bytes:
        """The recording's data key (raises :class:`IntegrityError` with a foreign key ring)."""
        return self._keyring.unwrap(
            WrappedKey(row["key_id"], row["wrapped_key"]), row["recording_id"].encode("ascii")
        )

    def number_columns(self, number: CustomerNumber | None, recording_id: str) -> dict[str, Any]:
        """The ``customer_*`` column values of a new row (all NULL without a number)."""
        if number is None:
            return dict(NO_NUMBER)
        sealed = self._numbers.seal(customer(number), _context(recording_id))
        return {
            "customer_bi": sealed.blind_index,
            "customer_masked": sealed.masked,
            "customer_enc": sealed.ciphertext,
            "customer_key_id": sealed.key_id,
            "customer_wrapped_key": sealed.wrapped_key,
        }

    def lookup(self, number: CustomerNumber) -> str:
        """The blind index a search by ``number`` matches."""
        return self._numbers.blind_index(customer(number))

    def reveal(self, row: Mapping[str, Any]) -> str:
        """The clear E.164 of a row that has a number (audit before calling this)."""
        if row["customer_key_id"] is None:  # sealed before records_0002, under the recording key
            context = row["recording_id"].encode("ascii")
            sealed = Sealed.from_bytes(row["customer_enc"])
            return sm4_gcm_decrypt(self.data_key(row), sealed, aad=b"number|" + context).decode()
        return self._numbers.unseal(_sealed(row), _context(row["recording_id"])).e164

    def rewrapped(self, row: Mapping[str, Any]) -> dict[str, Any]:
        """New key columns for a row whose recording or number key is not the current one."""
        rid = row["recording_id"]
        moved = self._keyring.rewrap(WrappedKey(row["key_id"], row["wrapped_key"]), rid.encode())
        values: dict[str, Any] = {"key_id": moved.key_id, "wrapped_key": moved.blob}
        if row["customer_key_id"] is not None and row["customer_wrapped_key"]:
            number = self._numbers.rewrap(_sealed(row), _context(rid))
            values |= {"customer_key_id": number.key_id, "customer_wrapped_key": number.wrapped_key}
        return values


def customer(number: object) -> CustomerNumber:
    """Refuse a raw string where a :class:`CustomerNumber` belongs (callers outside mypy)."""
    if not isinstance(number, CustomerNumber):
        raise ConfigError(
            "customer_number must be an ivr.phone.CustomerNumber (from customer_number()) or None"
        )
    return number


def _context(recording_id: str) -> str:
    return f"recording-number|{recording_id}"


def _sealed(row: Mapping[str, Any]) -> SealedNumber:
    return SealedNumber(
        blind_index=row["customer_bi"],
        masked=row["customer_masked"],
        key_id=row["customer_key_id"],
        wrapped_key=row["customer_wrapped_key"],
        ciphertext=row["customer_enc"],
    )
