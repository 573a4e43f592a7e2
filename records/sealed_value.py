"""Customer data kept as one text value, sealed (envelope encryption under the records key ring).

:func:`seal_value` turns bytes into ``sm4:<key id>:<wrapped data key>:<ciphertext>`` (base64):
SM4-GCM under a fresh data key that the :class:`records.keys.Keyring` wraps, both bound to a
context naming the row or item the value belongs to (a value copied elsewhere does not open).
:func:`open_value` reverses it (authenticated; :class:`ivr.errors.IntegrityError` when it is
malformed or forged). Master-key rotation covers these values as it covers recordings: the key
ring unwraps with any key it still holds. Used by the campaign lists' variables
(:mod:`campaigns.contact_vars`) and the QA findings in the outage spool
(:mod:`qa.spooled_results`).
"""

from __future__ import annotations

import base64

from ivr.crypto import Sealed, sm4_gcm_decrypt, sm4_gcm_encrypt
from ivr.errors import IntegrityError
from records.keys import Keyring, WrappedKey

PREFIX = "sm4:"


def seal_value(keyring: Keyring, context: bytes, plain: bytes) -> str:
    """``plain`` sealed for ``context`` under a fresh data key wrapped by ``keyring``."""
    data_key = Keyring.new_data_key()
    wrapped = keyring.wrap(data_key, context)
    sealed = sm4_gcm_encrypt(data_key, plain, aad=context).to_bytes()
    b64 = base64.b64encode
    return f"{PREFIX}{wrapped.key_id}:{b64(wrapped.blob).decode()}:{b64(sealed).decode()}"


def open_value(keyring: Keyring, context: bytes, stored: str, *, what: str = "value") -> bytes:
    """The bytes :func:`seal_value` sealed (``what`` names it in the error)."""
    try:
        if not stored.startswith(PREFIX):
            raise ValueError("no sm4: prefix")
        key_id, wrapped, sealed = stored[len(PREFIX) :].split(":")
        data_key = keyring.unwrap(WrappedKey(key_id, base64.b64decode(wrapped)), context)
        return sm4_gcm_decrypt(data_key, Sealed.from_bytes(base64.b64decode(sealed)), aad=context)
    except ValueError as exc:  # base64's binascii.Error is one
        raise IntegrityError(f"sealed {what} is malformed") from exc
