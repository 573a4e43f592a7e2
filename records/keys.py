"""Envelope encryption: per-recording SM4 data keys wrapped by master keys with key ids.

A :class:`Keyring` holds master keys by id and names the current one. New data keys are wrapped
(SM4-GCM, the key id and a context such as the recording id bound in as associated data) by the
current master key; any master key still in the ring unwraps. Rotation adds a new key, makes it
current and rewraps stored data keys (``RecordingVault.rewrap``): recordings are never
re-encrypted, and old keys keep decrypting until every wrapped key has moved.

Key file (JSON, readable by the service only)::

    {"current": "2025-06", "keys": {"2025-06": "<32 hex>", "2024-01": "<32 hex>"}}

Without a key file the ring holds the single master key from settings (``IVR_MASTER_KEY``) or
``data_dir/keys/master.key``, under the id :func:`key_id_for` derives from it. To rotate away from
it, list it in a key file under that id.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ivr.crypto import SM4_KEY_BYTES, Sealed, sm3, sm4_gcm_decrypt, sm4_gcm_encrypt
from ivr.errors import ConfigError, IntegrityError
from ivr.settings import Settings

_WRAP_LABEL = b"ivr-records-dek-v1|"


def key_id_for(master_key: bytes) -> str:
    """A stable, non-secret id for a master key (first 8 bytes of a labelled SM3)."""
    return "m-" + sm3(b"ivr-master-key-id|" + master_key)[:8].hex()


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """A data key sealed under master key ``key_id``."""

    key_id: str
    blob: bytes


class Keyring:
    """Master keys by id; :attr:`current_id` wraps new data keys."""

    def __init__(self, keys: Mapping[str, bytes], current_id: str) -> None:
        if current_id not in keys:
            raise ConfigError(f"current master key id {current_id!r} is not in the key ring")
        for kid, key in keys.items():
            if len(key) != SM4_KEY_BYTES:
                raise ConfigError(f"master key {kid!r} must be {SM4_KEY_BYTES} bytes")
        self._keys = dict(keys)
        self._current = current_id

    @classmethod
    def single(cls, master_key: bytes) -> Keyring:
        kid = key_id_for(master_key)
        return cls({kid: master_key}, kid)

    @classmethod
    def from_file(cls, path: Path) -> Keyring:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            keys = {str(k): bytes.fromhex(str(v)) for k, v in dict(data["keys"]).items()}
            current = str(data["current"])
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(f"master key file {path} unreadable or malformed") from exc
        return cls(keys, current)

    @classmethod
    def from_settings(cls, settings: Settings) -> Keyring:
        if settings.records_keyring_file is not None:
            return cls.from_file(settings.records_keyring_file)
        return cls.single(settings.key_bytes("master"))

    @property
    def current_id(self) -> str:
        return self._current

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(self._keys)

    @staticmethod
    def new_data_key() -> bytes:
        return os.urandom(SM4_KEY_BYTES)

    def wrap(self, data_key: bytes, context: bytes) -> WrappedKey:
        kid = self._current
        sealed = sm4_gcm_encrypt(self._keys[kid], data_key, aad=self._aad(kid, context))
        return WrappedKey(kid, sealed.to_bytes())

    def unwrap(self, wrapped: WrappedKey, context: bytes) -> bytes:
        key = self._keys.get(wrapped.key_id)
        if key is None:
            raise IntegrityError(f"master key {wrapped.key_id!r} is not in the key ring")
        return sm4_gcm_decrypt(
            key, Sealed.from_bytes(wrapped.blob), aad=self._aad(wrapped.key_id, context)
        )

    def rewrap(self, wrapped: WrappedKey, context: bytes) -> WrappedKey:
        """The same data key wrapped by the current master key (unchanged if already)."""
        if wrapped.key_id == self._current:
            return wrapped
        return self.wrap(self.unwrap(wrapped, context), context)

    @staticmethod
    def _aad(kid: str, context: bytes) -> bytes:
        return _WRAP_LABEL + kid.encode("utf-8") + b"|" + context
