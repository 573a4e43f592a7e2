"""Subprocess worker for the concurrency test: wait for the go file, then append N entries."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from ivr.db import make_engine
from records.evidence_store import SqlEvidenceLog


def main() -> None:
    url, count, tag, go = sys.argv[1], int(sys.argv[2]), sys.argv[3], Path(sys.argv[4])
    log = SqlEvidenceLog(make_engine(url))
    deadline = time.monotonic() + 60
    while not go.exists() and time.monotonic() < deadline:
        time.sleep(0.005)
    for i in range(count):
        log.append_entry("escalated", call_id=f"{tag}-{i}", payload={"writer": tag, "i": i})


if __name__ == "__main__":
    main()
