"""kill -9 in the middle of DNC, consent and evidence writes: whatever was acknowledged survives
(inv3, inv5, inv12). A child process writes from 4 concurrent writers through the real service
and the real chained evidence log and notes each acknowledgement the moment it has it; the test
kills it with SIGKILL mid-burst, then reopens the database."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import time
from pathlib import Path

import pytest
from cmp_support import build_chained, write_until_killed
from helpers.numbers import customer

ACKS_BEFORE_KILL = 60


def acknowledged(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_kill_9_mid_writes_loses_no_acknowledged_dnc_consent_or_evidence(
    backend: str, sqlite_url: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = sqlite_url if backend == "sqlite" else request.getfixturevalue("pg_url")
    out = tmp_path / "acks.txt"
    child = multiprocessing.get_context("spawn").Process(
        target=write_until_killed, args=(url, str(out))
    )
    child.start()
    try:
        deadline = time.monotonic() + 90
        while len(acknowledged(out)) < ACKS_BEFORE_KILL:
            assert child.is_alive() and time.monotonic() < deadline, "the writing process stalled"
            await asyncio.sleep(0.005)
        os.kill(child.pid or 0, signal.SIGKILL)
    finally:
        child.join(timeout=30)
    assert child.exitcode == -signal.SIGKILL
    acks = acknowledged(out)
    # a line may be half-written only if the kill hit os.write itself: ignore a partial last one
    acks = [a for a in acks if (a[0] == "dnc" and len(a) == 2) or len(a) == 3]
    assert {a[0] for a in acks} == {"dnc", "consent", "evidence"}

    svc, log = build_chained(url)
    await svc.start(watch=False)
    try:
        for what, *rest in acks:
            if what == "dnc":
                assert await svc.is_dnc(customer(rest[0])), "an acknowledged DNC entry was lost"
            elif what == "consent":
                assert await svc.has_valid_consent(customer(rest[0]), "marketing"), "consent lost"
        result = await asyncio.to_thread(log.verify)
        assert result.ok, result.reason
        stored = {e.seq: e for e in log.entries()}
        for _, seq, digest in (a for a in acks if a[0] == "evidence"):
            assert stored[int(seq)].hash.hex() == digest, "acknowledged evidence lost or changed"
        dnc_evidence = {
            e.payload.get("number_index") for e in stored.values() if e.kind == "dnc_added"
        }
        consent_evidence = {
            e.payload.get("consent_id") for e in stored.values() if e.kind == "consent_granted"
        }
        for what, *rest in acks:
            if what == "dnc":
                assert svc.index(customer(rest[0]).e164) in dnc_evidence, (
                    "DNC without its evidence",
                    sorted({e.kind for e in stored.values()}),
                    len(stored),
                )
            elif what == "consent":
                assert rest[1] in consent_evidence, "consent without its evidence"
    finally:
        await svc.close()
