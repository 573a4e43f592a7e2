"""Ports of the records package: where encrypted recordings live, and the vault itself."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

if TYPE_CHECKING:
    from records.recording import RecordingInfo, RecordingMeta


class BlobStore(Protocol):
    """Object storage for sealed recordings (only ciphertext ever reaches it).

    ``writer(key)`` yields a binary file; the object appears under ``key`` atomically and
    durably when the block exits normally, and not at all otherwise.
    """

    def writer(self, key: str) -> AbstractContextManager[BinaryIO]: ...

    def reader(self, key: str) -> AbstractContextManager[BinaryIO]:
        """A seekable binary reader; :class:`records.blobstore.BlobNotFoundError` if absent."""
        ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None:
        """Remove ``key`` durably; a missing key is not an error."""
        ...

    def keys(self) -> Iterator[str]: ...

    def clean_temporary(self, older_than_s: float) -> int:
        """Remove unfinished writes older than ``older_than_s``; returns how many."""
        ...


class RecordingVault(Protocol):
    """What the call orchestrator needs at call end."""

    async def ingest(self, source: Path, meta: RecordingMeta) -> RecordingInfo: ...
