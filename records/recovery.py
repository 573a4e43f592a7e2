"""Recovery after a crash, and master-key rotation of the stored data keys.

:meth:`Recovery.recover` is safe to run at any time (at start, before each purge): ``pending``
rows older than the lease are rolled back (object removed, then row), ``stored`` rows whose
plaintext source is still on disk have it removed if its SM3 matches, ``deleting`` rows are
finished, and the blob store's stale unfinished writes are removed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ivr.durable import fsync_dir
from records.ports import BlobStore
from records.recording_index import RecordingIndex
from records.retention import Retention
from records.sealed_blob import stream_sm3

log = logging.getLogger(__name__)


class Recovery:
    """Finishes or rolls back interrupted ingests and deletes; rewraps data keys."""

    def __init__(
        self,
        index: RecordingIndex,
        store: BlobStore,
        retention: Retention,
        clock: Callable[[], datetime],
        pending_lease_s: float,
    ) -> None:
        self._index = index
        self._store = store
        self._retention = retention
        self._clock = clock
        self._lease = pending_lease_s

    def rollback_pending(self, recording_id: str, storage_key: str) -> None:
        """Undo an ingest that did not reach ``stored``: object first, then the intent row."""
        self._store.delete(storage_key)
        self._index.delete_pending(recording_id)

    def recover(self, lease_s: float | None = None) -> dict[str, int]:
        lease = self._lease if lease_s is None else lease_s
        cutoff = self._clock() - timedelta(seconds=lease)
        counts = {"rolled_back": 0, "sources_removed": 0, "deletes_finished": 0, "temp_removed": 0}
        pending, leftovers, deleting = self._index.unfinished(cutoff)
        for rid, key in pending:
            self.rollback_pending(rid, key)
            counts["rolled_back"] += 1
        for rid, source, digest in leftovers:
            path = Path(source)
            if path.is_file() and _file_sm3(path) == digest:
                remove_plaintext(path)
                counts["sources_removed"] += 1
            self._index.clear_sources([rid])
        for rid, key in deleting:
            self._retention.finish_delete(rid, key)
            counts["deletes_finished"] += 1
        counts["temp_removed"] = self._store.clean_temporary(lease)
        if any(counts.values()):
            log.info("vault recovery: %s", counts)
        return counts

    def rewrap(
        self,
        current_key_id: str,
        rewrap_row: Callable[[Mapping[str, Any]], Mapping[str, Any]],
        batch: int = 500,
    ) -> int:
        """Move every data key not under ``current_key_id``; returns how many rows moved."""
        moved = 0
        while count := self._index.rewrap_batch(current_key_id, batch, rewrap_row):
            moved += count
        if moved:
            log.info("rewrapped %d recording keys to master key %s", moved, current_key_id)
        return moved


def remove_plaintext(path: Path) -> None:
    """Unlink a clear recording and fsync its directory (a missing file is fine)."""
    try:
        path.unlink()
    except FileNotFoundError:
        return
    fsync_dir(path.parent)


def _file_sm3(path: Path) -> str:
    with path.open("rb") as fh:
        return stream_sm3(fh)
