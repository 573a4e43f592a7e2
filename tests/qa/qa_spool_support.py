"""Child processes of the QA outage-spool tests (run with the ``spawn`` start method): one writes
calls' QA results while the database is down until it is killed, one replays them and is
killed right after the first result committed, before the spool let go of it."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from ivr.spool import SpoolItem
from ivr.spool_drain import Replayer
from qa.calls import Turn
from qa.rules import Speaker
from qa.verdict import SpeechContext

DEAD_PG = "postgresql://postgres@127.0.0.1:1/ivr_down"  # refused at once: the database is down
PHRASE = "稳赚不赔"  # what the agent said: a transcript piece, customer data
TURNS = (
    Turn(Speaker.BOT, "您好，这里是示例银行，工号B001，本次通话将被录音。", 0, 3000),
    Turn(Speaker.AGENT, f"您好，这个理财产品{PHRASE}", 4000, 7000),
)
STARTED = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)


def context(i: int) -> SpeechContext:
    return SpeechContext(f"qa-outage-{i}", purpose="marketing", campaign="c", agent_id="A7")


def spool_results_until_killed(path: str, out: str, key_hex: str) -> None:
    """Finish calls (QA result saved, then its evidence) forever with the database down; each
    call id is appended to ``out`` once ``finish_call`` returned a result."""
    asyncio.run(_spool_forever(Path(path), out, bytes.fromhex(key_hex)))


async def _spool_forever(path: Path, out: str, key: bytes) -> None:
    from ivr.db import make_engine
    from ivr.spool import Spool
    from qa.alerts import LoggedAlerts
    from qa.hooks import QaHooks
    from qa.reload import DEFAULT_RULES_PATH, QaRulesHolder, load_rules_file
    from qa.spooled_results import QaResultSpool
    from qa.store import QaResultStore
    from records.evidence_store import SqlEvidenceLog
    from records.keys import Keyring
    from records.spooled_evidence import SpooledEvidence

    spool = Spool(path)
    down = make_engine(DEAD_PG)
    evidence = SpooledEvidence(SqlEvidenceLog(down), spool)
    store = QaResultStore(down, evidence, spool=QaResultSpool(spool, Keyring.single(key)))
    hooks = QaHooks(
        QaRulesHolder(load_rules_file(DEFAULT_RULES_PATH)), LoggedAlerts(), evidence, store
    )
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    i = 0
    while True:
        result = await hooks.finish_call(context(i), TURNS, STARTED)
        if result is not None:
            os.write(fd, f"{result.call_id}\n".encode())
        i += 1


class KilledAfterApply:
    """A replayer that kills its process with SIGKILL once the inner one's apply committed."""

    def __init__(self, inner: Replayer) -> None:
        self.inner = inner

    def prepare(self) -> str | None:
        return self.inner.prepare()

    def apply(self, items: Sequence[SpoolItem]) -> None:
        self.inner.apply(items)
        os.kill(os.getpid(), signal.SIGKILL)

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        return self.inner.applied(items, token)


def replay_until_killed(path: str, url: str, key_hex: str) -> None:
    """Drain the spool into ``url``; killed right after the first QA result committed."""
    from compliance.outage import open_outage_spool
    from ivr.db import make_engine
    from qa.spooled_results import KIND
    from records.evidence_store import SqlEvidenceLog
    from records.keys import Keyring

    engine = make_engine(url)
    outage = open_outage_spool(
        Path(path),
        engine=engine,
        evidence=SqlEvidenceLog(engine),
        keyring=Keyring.single(bytes.fromhex(key_hex)),
    )
    outage.drainer.replayers[KIND] = KilledAfterApply(outage.drainer.replayers[KIND])
    outage.drainer.drain_once()
