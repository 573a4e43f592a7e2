"""The outage spool of a process, wired: spool file, spooled evidence, spooled ledger, drainer.

:func:`open_outage_spool` is what a composition root calls (the call process, the dialler) with
``settings.outage_spool_path`` (``IVR_SPOOL_PATH``): it opens the file (:mod:`ivr.spool`), wraps
the SQL evidence log (:class:`records.spooled_evidence.SpooledEvidence`), gives the compliance
service its :class:`compliance.spool.LedgerSpool` and builds the supervised
:class:`ivr.spool_drain.SpoolDrainer` with every replayer (evidence, DNC, consent, recordings
the vault sealed while its index was down: :mod:`records.spooled_recording`; QA results, their
findings sealed under the records key ring the root passes: :mod:`qa.spooled_results`), so any
process on the file can drain what any other (or a previous one) spooled. ``start()`` drains
what a previous process left and starts the loop; ``close()`` tries a last pass, then stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger
from ivr.errors import StoreUnavailableError
from ivr.spool import Spool
from ivr.spool_drain import DrainPass, Replayer, SpoolDrainer
from qa.spooled_results import KIND as QA_RESULT
from qa.spooled_results import QaResultReplay, QaResultSpool
from records.evidence_store import SqlEvidenceLog
from records.keys import Keyring
from records.recording_index import RecordingIndex
from records.spooled_evidence import KIND as EVIDENCE
from records.spooled_evidence import EvidenceReplay, SpooledEvidence
from records.spooled_recording import KIND as RECORDING
from records.spooled_recording import RecordingReplay

log = logging.getLogger(__name__)


@dataclass
class OutageSpool:
    """One process's spool and its users (see the module docstring)."""

    spool: Spool
    ledger: LedgerSpool
    evidence: SpooledEvidence
    qa: QaResultSpool
    drainer: SpoolDrainer

    async def start(self) -> None:
        left = await asyncio.to_thread(self.spool.count)
        if left:
            log.info("outage spool holds %d writes from before: draining", left)
        with contextlib.suppress(StoreUnavailableError):
            await self.drainer.drain()
        self.drainer.start()

    async def close(self) -> None:
        await self.drainer.stop()
        with contextlib.suppress(StoreUnavailableError):
            await self.drainer.drain()
        left = await asyncio.to_thread(self.spool.count)
        if left:
            log.warning("outage spool keeps %d writes for the next start", left)
        self.drainer.close()
        self.spool.close()


def open_outage_spool(
    path: Path, *, engine: sa.Engine, evidence: SqlEvidenceLog, keyring: Keyring
) -> OutageSpool:
    """The spool at ``path`` with replayers into ``engine``'s ledger and ``evidence``'s chain;
    ``keyring`` (the records key ring) seals and opens spooled QA findings."""
    spool = Spool(path)
    ledger = LedgerSpool(spool)
    sink = SpooledEvidence(evidence, spool)
    replayers: dict[str, Replayer] = {
        EVIDENCE: EvidenceReplay(evidence, replayed=sink.replayed_call),
        RECORDING: RecordingReplay(RecordingIndex(engine), evidence),
        QA_RESULT: QaResultReplay(engine, keyring),
    }
    replayers.update(ledger.replayers(SqlLedger(engine)))

    def after(_: DrainPass) -> None:
        ledger.refresh()

    drainer = SpoolDrainer(spool, replayers, after_pass=after, each_pass=ledger.remirror)
    return OutageSpool(spool, ledger, sink, QaResultSpool(spool, keyring), drainer)
