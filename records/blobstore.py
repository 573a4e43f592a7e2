"""Filesystem blob store: sealed recordings under ``<root>/objects``, writes via ``<root>/tmp``.

Writes go to a temporary file in the same filesystem, are fsynced, renamed into place and the
directory is fsynced, so an object is either absent or complete after a crash. Only ciphertext
is ever written here. ``records.blobstore_s3`` implements the same port on S3-compatible storage.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from ivr.durable import fsync_dir
from ivr.errors import IvrError, LocalProtocolError

_KEY = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


class BlobNotFoundError(IvrError):
    """No object under that key."""


def is_valid_key(key: str) -> bool:
    """Blob keys are a recording id and a suffix: no path separators, no customer data."""
    return _KEY.fullmatch(key) is not None


def check_key(key: str) -> str:
    """``key`` if it is a valid blob key, else :class:`LocalProtocolError`."""
    if not is_valid_key(key):
        raise LocalProtocolError("invalid blob key")
    return key


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._objects = root / "objects"
        self._tmp = root / "tmp"
        self._objects.mkdir(parents=True, exist_ok=True)
        self._tmp.mkdir(parents=True, exist_ok=True)
        os.chmod(root, 0o700)

    def path_of(self, key: str) -> Path:
        check_key(key)
        return self._objects / key[:2] / key

    @contextlib.contextmanager
    def writer(self, key: str) -> Iterator[BinaryIO]:
        final = self.path_of(key)
        tmp = self._tmp / f"{key}.{os.getpid()}.part"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                yield fh
                fh.flush()
                os.fsync(fh.fileno())
            final.parent.mkdir(exist_ok=True)
            os.replace(tmp, final)
            fsync_dir(final.parent)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        try:
            fh = self.path_of(key).open("rb")
        except FileNotFoundError as exc:
            raise BlobNotFoundError("sealed recording missing from the store") from exc
        with fh:
            yield fh

    def exists(self, key: str) -> bool:
        return self.path_of(key).exists()

    def delete(self, key: str) -> None:
        path = self.path_of(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)

    def keys(self) -> Iterator[str]:
        for sub in sorted(self._objects.iterdir()):
            if sub.is_dir():
                for obj in sorted(sub.iterdir()):
                    yield obj.name

    def clean_temporary(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for part in self._tmp.glob("*.part"):
            with contextlib.suppress(FileNotFoundError):
                if part.stat().st_mtime <= cutoff:
                    part.unlink()
                    removed += 1
        return removed
