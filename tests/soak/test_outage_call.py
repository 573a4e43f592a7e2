"""A call while PostgreSQL is down (a private cluster, stopped): the caller refuses, the refusal
is acknowledged (the polite close plays) and the call ends normally; once PostgreSQL is back the
outage spool is replayed: the number is on DNC with the call's time, the call has its
``call_ended`` evidence and the chain verifies. Before the replay the gate already refuses to
dial the number (inv6, inv1, inv12). The call's recording is sealed into the vault's blob store
during the outage and its clear WAV removed; only its index row waits in the spool, and after
the replay it is searchable and plays to the same audio; a replay repeated after a crash does
not double it (inv10). The call's QA result waits in the spool too (its findings sealed) and is
stored by the replay."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pytest
from camp_support import MASTER_KEY
from flow_support import FlowStack, prompt_file, stack_settings
from helpers.compliance_data import INDEX_KEY
from helpers.numbers import customer, fresh_mobile
from helpers.wait import eventually
from soak_calls import played
from soak_services import PrivatePostgres

from compliance.decision import GateRequest
from flows.adapters import SidecarListener, VaultRecordings
from flows.app import build_deps
from flows.call import CallFacts
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry
from ivr.db import migrate
from ivr.evidence import EvidenceKind
from ivr.settings import REPO_ROOT
from qa.store import QaResultStore
from records.blobstore import FileBlobStore
from records.spooled_recording import KIND as RECORDING
from records.vault import Actor, RecordingQuery
from telephony.server import OutboundServer
from telephony.simulator import CallerScript, CallResult, SimulatedCall, Turn

pytestmark = pytest.mark.slow
DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
NO_BOT = "http://127.0.0.1:1"  # the refusal is pressed (DTMF 2): no bot needed
OFFICER = Actor("qa", "compliance_officer")


@dataclass
class AudioSeen:
    """The real vault adapter, keeping what the clear file held and where it was (to compare
    the replayed recording's audio with)."""

    inner: VaultRecordings
    audio: dict[str, bytes] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def vault(self) -> object:
        return self.inner.vault

    async def store(self, wav: Path, call: CallFacts, ended_at: datetime) -> None:
        self.audio[call.call_id] = await asyncio.to_thread(wav.read_bytes)
        self.paths[call.call_id] = wav
        await self.inner.store(wav, call, ended_at)


@pytest.fixture
async def outage_stack(tmp_path: Path) -> AsyncIterator[tuple[FlowStack, PrivatePostgres]]:
    pg = PrivatePostgres()
    try:
        await asyncio.to_thread(pg.start)
        url = await asyncio.to_thread(pg.create_database, "outage")
        await asyncio.to_thread(migrate, url)
        flows_dir = tmp_path / "flows"
        shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
        cache = REPO_ROOT / "var" / "soak-prompt-cache"  # content-addressed: shared
        cache.mkdir(parents=True, exist_ok=True)
        settings = stack_settings(
            tmp_path, NO_BOT, cache, database_url=url,
            blind_index_key=INDEX_KEY.hex(), master_key=MASTER_KEY.hex(),
        )  # fmt: skip
        built = await build_deps(
            settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir)
        )
        stack = FlowStack(built, settings, flows_dir, tmp_path / "fs")
        stack.use(clock=lambda: DAYTIME)
        try:
            yield stack, pg
        finally:
            await built.aclose()
    finally:
        await asyncio.to_thread(pg.close)


async def test_inv6_refusal_while_postgres_is_down_is_acknowledged_and_on_dnc_after(
    outage_stack: tuple[FlowStack, PrivatePostgres],
) -> None:
    stack, pg = outage_stack
    national = fresh_mobile()
    number = customer(national)
    outage = stack.built.outage
    assert outage is not None
    real = stack.deps.recordings
    assert isinstance(real, VaultRecordings)
    seen = AudioSeen(real)
    stack.use(recordings=seen)
    await asyncio.to_thread(pg.stop)
    script = CallerScript(caller=national, destination="95588", turns=(Turn.press("2"),))
    result = await _call(stack, "outbound_marketing", script, {"ivr_customer_number": national})
    close = prompt_file(stack, "outbound_marketing", "refusal_close")
    assert close in played(result), played(result)  # the refusal was acknowledged
    assert result.hangup_by == "ivr"  # the call ended normally, by the app
    assert outage.spool.count() > 0
    wav = seen.paths[result.uuid]
    assert len(seen.audio[result.uuid]) > 1000 and not wav.exists()  # no clear WAV remains
    (spooled,) = [i for i in outage.spool.head(10_000) if i.kind == RECORDING]
    rid = spooled.key
    blobs = FileBlobStore(stack.settings.data_dir / "vault")
    assert blobs.exists(f"{rid}.sm4")  # sealed into the blob store during the outage

    await outage.drainer.stop()  # PostgreSQL returns, the spool has not drained yet:
    await asyncio.to_thread(pg.start)
    svc = stack.built.compliance
    decision = await svc.dry_run(GateRequest(number.e164, "marketing", "after-1"), at=DAYTIME)
    assert not decision.allowed and "dnc" in [r.value for r in decision.reasons]

    outage.drainer.start()  # the supervised drainer replays the spool
    await eventually(lambda: outage.spool.count() == 0, timeout_s=30)
    entry = await svc.dnc_entry(number)
    assert entry is not None and entry.call_id == result.uuid
    log = outage.evidence.log
    kinds = [e.kind for e in log.entries(call_id=result.uuid)]
    assert kinds[0] == EvidenceKind.CALL_STARTED and EvidenceKind.DISCLOSURE_PLAYED in kinds
    assert EvidenceKind.DNC_ADDED in kinds
    assert EvidenceKind.CALL_ENDED in kinds
    assert EvidenceKind.QA_RESULT in kinds
    (qa,) = QaResultStore(log.engine, log).get(result.uuid)  # the call's QA, spooled sealed
    assert qa.source == "call"
    assert (await asyncio.to_thread(log.verify)).ok

    vault = real.vault  # the recording is searchable and plays to the same audio
    (found,) = vault.search(OFFICER, RecordingQuery(call_id=result.uuid))
    assert found.recording_id == rid
    assert vault.fetch(OFFICER, rid, "outage check").data == seen.audio[result.uuid]
    # a crash after the replay committed, before the item left the spool: replayed again
    await outage.drainer.stop()
    outage.spool.put(spooled.kind, spooled.body, key=spooled.key)
    await outage.drainer.drain()
    assert outage.spool.count() == 0
    assert len(vault.search(OFFICER, RecordingQuery(call_id=result.uuid))) == 1
    kinds = [e.kind for e in log.entries(call_id=result.uuid)]
    assert kinds.count(EvidenceKind.RECORDING_STORED) == 1
    assert (await asyncio.to_thread(log.verify)).ok


async def _call(
    stack: FlowStack, flow: str, script: CallerScript, variables: dict[str, str]
) -> CallResult:
    """One call into the orchestrator (``FlowStack.place`` without reading the evidence)."""
    deps = stack.deps
    server = OutboundServer(CallOrchestrator(deps), deps.evidence, stack.server_config)
    host, port = await server.start("127.0.0.1", 0)
    try:
        call = SimulatedCall(script, time_scale=0.0, write_requested_paths=True)
        call.channel.variables.update({"ivr_flow": flow, **variables})
        result = await call.run(host, port, deadline_s=120)
        await server.wait_idle()
    finally:
        await server.close()
    return result
