"""The sealed-recording format (pure: it works on the file objects it is given, opens nothing).

One object per recording, SM4-GCM under the recording's data key::

    MAGIC ("IVRREC1\\n", 8 bytes) | nonce (12) | ciphertext (= plaintext length) | tag (16)

The associated data is ``MAGIC + context`` (the recording id), so an object moved under another
recording's row fails authentication. Sealing streams in 1 MiB chunks and returns the plaintext's
size and SM3; opening checks the header, reads the tag from the end of a seekable reader, then
streams the body out and raises :class:`ivr.errors.IntegrityError` before returning if the tag
fails (a caller must discard what it received unless :func:`open_stream` returned).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ivr.crypto import GCM_NONCE_BYTES, GCM_TAG_BYTES
from ivr.errors import IntegrityError

BLOB_MAGIC = b"IVRREC1\n"
CHUNK = 1 << 20
HEADER_BYTES = len(BLOB_MAGIC) + GCM_NONCE_BYTES


def _nothing() -> None:
    return None


def seal_stream(
    src: BinaryIO,
    out: BinaryIO,
    data_key: bytes,
    context: bytes,
    *,
    after_first_chunk: Callable[[], None] = _nothing,
) -> tuple[int, str]:
    """Write ``src`` sealed to ``out``; returns (plaintext bytes, plaintext SM3 hex)."""
    nonce = os.urandom(GCM_NONCE_BYTES)
    enc = Cipher(algorithms.SM4(data_key), modes.GCM(nonce)).encryptor()
    enc.authenticate_additional_data(BLOB_MAGIC + context)
    digest = hashes.Hash(hashes.SM3())
    size = 0
    out.write(BLOB_MAGIC + nonce)
    first = True
    while chunk := src.read(CHUNK):
        size += len(chunk)
        digest.update(chunk)
        out.write(enc.update(chunk))
        if first:
            after_first_chunk()
            first = False
    out.write(enc.finalize())
    out.write(enc.tag)
    return size, digest.finalize().hex()


def open_stream(
    sealed: BinaryIO, data_key: bytes, context: bytes, sink: Callable[[bytes], object]
) -> None:
    """Decrypt the seekable ``sealed`` object chunk by chunk into ``sink``.

    Raises :class:`IntegrityError` (bad header, truncated, failed authentication) before
    returning; what ``sink`` received is only valid if this returns.
    """
    header = sealed.read(HEADER_BYTES)
    if len(header) != HEADER_BYTES or not header.startswith(BLOB_MAGIC):
        raise IntegrityError("sealed recording has a bad header")
    nonce = header[len(BLOB_MAGIC) :]
    end = sealed.seek(0, os.SEEK_END)
    body_len = end - HEADER_BYTES - GCM_TAG_BYTES
    if body_len < 0:
        raise IntegrityError("sealed recording truncated")
    sealed.seek(end - GCM_TAG_BYTES)
    tag = sealed.read(GCM_TAG_BYTES)
    sealed.seek(HEADER_BYTES)
    dec = Cipher(algorithms.SM4(data_key), modes.GCM(nonce, tag)).decryptor()
    dec.authenticate_additional_data(BLOB_MAGIC + context)
    remaining = body_len
    while remaining > 0:
        chunk = sealed.read(min(CHUNK, remaining))
        if not chunk:
            raise IntegrityError("sealed recording truncated")
        remaining -= len(chunk)
        sink(dec.update(chunk))
    try:
        sink(dec.finalize())
    except InvalidTag as exc:
        raise IntegrityError("sealed recording failed authentication") from exc


def sealed_sm3(sealed: BinaryIO, data_key: bytes, context: bytes) -> str:
    """SM3 hex of the plaintext inside ``sealed`` (authenticated; for read-back checks)."""
    digest = hashes.Hash(hashes.SM3())
    open_stream(sealed, data_key, context, digest.update)
    return digest.finalize().hex()


def stream_sm3(src: BinaryIO) -> str:
    """SM3 hex of everything ``src`` yields (the plaintext source, for recovery checks)."""
    digest = hashes.Hash(hashes.SM3())
    while chunk := src.read(CHUNK):
        digest.update(chunk)
    return digest.finalize().hex()
