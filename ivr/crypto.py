"""Crypto core: SM3, HMAC-SM3, SM4-GCM and the phone-number blind index.

Pure functions over bytes on top of the ``cryptography`` library (OpenSSL). Checked against the
GB/T 32905 (SM3) and GB/T 32907 (SM4) test vectors in ``tests/test_crypto.py``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ivr.errors import IntegrityError, LocalProtocolError

SM4_KEY_BYTES = 16
GCM_NONCE_BYTES = 12
GCM_TAG_BYTES = 16


def sm3(data: bytes) -> bytes:
    """SM3 digest (32 bytes) of ``data``."""
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key: bytes, data: bytes) -> bytes:
    """HMAC-SM3 (32 bytes) of ``data`` under ``key``."""
    mac = hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 (32 bytes) of ``data`` under ``key`` (signatures third parties verify)."""
    mac = hmac.HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def sm4_ecb_encrypt_block(key: bytes, block: bytes) -> bytes:
    """Encrypt one 16-byte block with raw SM4 (for test vectors and key checks only)."""
    _check_key(key)
    if len(block) != 16:
        raise LocalProtocolError("SM4 block must be 16 bytes")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 - single block, vectors
    return enc.update(block) + enc.finalize()


@dataclass(frozen=True, slots=True)
class Sealed:
    """An SM4-GCM ciphertext: nonce, ciphertext and tag, serialisable as one blob."""

    nonce: bytes
    ciphertext: bytes
    tag: bytes

    def to_bytes(self) -> bytes:
        return self.nonce + self.ciphertext + self.tag

    @classmethod
    def from_bytes(cls, blob: bytes) -> Sealed:
        if len(blob) < GCM_NONCE_BYTES + GCM_TAG_BYTES:
            raise IntegrityError("sealed blob too short")
        return cls(
            nonce=blob[:GCM_NONCE_BYTES],
            ciphertext=blob[GCM_NONCE_BYTES:-GCM_TAG_BYTES],
            tag=blob[-GCM_TAG_BYTES:],
        )


def sm4_gcm_encrypt(
    key: bytes, plaintext: bytes, aad: bytes = b"", nonce: bytes | None = None
) -> Sealed:
    """Encrypt and authenticate ``plaintext`` with SM4-GCM; a random nonce unless given."""
    _check_key(key)
    nonce = os.urandom(GCM_NONCE_BYTES) if nonce is None else nonce
    enc = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(aad)
    ciphertext = enc.update(plaintext) + enc.finalize()
    return Sealed(nonce=nonce, ciphertext=ciphertext, tag=enc.tag)


def sm4_gcm_decrypt(key: bytes, sealed: Sealed, aad: bytes = b"") -> bytes:
    """Decrypt and verify; raises :class:`IntegrityError` if anything was altered."""
    _check_key(key)
    dec = Cipher(algorithms.SM4(key), modes.GCM(sealed.nonce, sealed.tag)).decryptor()
    dec.authenticate_additional_data(aad)
    try:
        return dec.update(sealed.ciphertext) + dec.finalize()
    except InvalidTag as exc:
        raise IntegrityError("SM4-GCM authentication failed") from exc


def blind_index(key: bytes, e164: str) -> str:
    """Keyed blind index of a normalised E.164 number: hex HMAC-SM3. Never reversible."""
    return hmac_sm3(key, e164.encode("ascii")).hex()


def _check_key(key: bytes) -> None:
    if len(key) != SM4_KEY_BYTES:
        raise LocalProtocolError(f"SM4 key must be {SM4_KEY_BYTES} bytes, got {len(key)}")
