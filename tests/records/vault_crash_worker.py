"""Subprocess for the crash test: ingest one recording and SIGKILL itself at a given step."""

from __future__ import annotations

import os
import signal
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ivr.db import make_engine
from ivr.phone import customer_number
from records.blobstore import FileBlobStore
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.vault import RecordingMeta, Vault


def main() -> None:
    url, root, source, step, master, bi = sys.argv[1:7]

    def hook(reached: str) -> None:
        if reached == step:
            os.kill(os.getpid(), signal.SIGKILL)

    engine = make_engine(url)
    vault = Vault(
        engine,
        FileBlobStore(Path(root)),
        Keyring.single(bytes.fromhex(master)),
        bytes.fromhex(bi),
        SqlEvidenceLog(engine),
        step_hook=hook,
    )
    t0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    vault.ingest_sync(
        Path(source),
        RecordingMeta(
            call_id="crash-call",
            business_type="credit_card",
            direction="inbound",
            started_at=t0,
            ended_at=t0 + timedelta(minutes=2),
            customer_number=customer_number("13812345678"),
            qa_flags=("complaint",),
        ),
    )


if __name__ == "__main__":
    main()
