"""Post-call QA of a stored stereo recording (caller left, agent right) with the real engines
(VAD-gated Whisper from speech.factory), and batch QA of stored recordings as a resumable job."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from ivr.db import make_engine, migrate
from ivr.settings import Settings
from qa.batch import BatchJobs
from qa.calls import FindingKind
from qa.compiled import CompiledRules
from qa.postcall import RecordingQa, split_channels
from qa.rules import Speaker
from qa.store import QaResultStore
from records.vault import RecordingMeta, Vault
from speech.audio import Audio, read_wav, write_wav

SAMPLES = Path(__file__).resolve().parent.parent / "speech" / "fixtures"
START = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def stereo(path: Path, left: list[tuple[float, str]], right: list[tuple[float, str]]) -> None:
    """A 16-bit stereo WAV: fixture utterances placed at the given seconds on each channel."""
    rate, seconds = 8000, 14.0
    chans = np.zeros((2, int(rate * seconds)), dtype=np.int16)
    for ch, items in ((0, left), (1, right)):
        for at, name in items:
            samples = read_wav(SAMPLES / name).samples
            i = int(at * rate)
            chans[ch, i : i + len(samples)] = samples
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(chans.T.copy().tobytes())


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    settings = Settings(data_dir=tmp_path / "data")
    migrate(settings.sqlalchemy_url)
    return Vault.from_settings(settings, make_engine(settings.sqlalchemy_url))


def ingest(vault: Vault, tmp_path: Path, call_id: str, at: datetime) -> str:
    wav = tmp_path / f"{call_id}.wav"
    stereo(wav, [(0.5, "a01.wav"), (9.0, "a28.wav")], [(2.0, "a02.wav"), (5.0, "a29.wav")])
    meta = RecordingMeta(
        call_id=call_id,
        business_type="marketing",
        direction="outbound",
        started_at=at,
        ended_at=at + timedelta(seconds=14),
        campaign="理财外呼",
        agent_id="agent-7",
    )
    return vault.ingest_sync(wav, meta).recording_id


def test_split_channels_keeps_caller_and_agent_apart(tmp_path: Path) -> None:
    wav = tmp_path / "s.wav"
    stereo(wav, [(0.5, "a01.wav")], [])
    caller, agent = split_channels(wav.read_bytes())
    assert caller is not None and np.abs(caller.samples).max() > 1000
    assert np.abs(agent.samples).max() == 0
    mono = tmp_path / "m.wav"
    write_wav(mono, Audio.silence(1.0))
    assert split_channels(mono.read_bytes())[0] is None


@pytest.mark.slow
async def test_a_stored_stereo_recording_is_transcribed_and_inspected(
    shipped: CompiledRules, vault: Vault, tmp_path: Path
) -> None:
    from speech.factory import build_asr, build_vad

    settings = Settings(data_dir=tmp_path / "data")
    recording_id = ingest(vault, tmp_path, "call-rec-1", START)
    store = QaResultStore(vault.evidence.engine, vault.evidence)
    rqa = RecordingQa(
        vault,
        store,
        build_asr(settings),
        lambda rate: build_vad(settings, rate),
        lambda: shipped,
        "示例银行",
    )
    result_id, result = await rqa.inspect(recording_id)
    hits = [f for f in result.findings if f.kind is FindingKind.HIT]
    assert hits and {f.speaker for f in hits} == {Speaker.AGENT}  # the caller is not scored
    assert {f.category for f in hits} == {"prohibited_promise"}
    assert all(5000 <= (f.offset_ms or 0) <= 9000 for f in hits)  # where the agent said it
    assert "disclosure" in {f.rule for f in result.findings}  # no disclosure at the start
    (stored,) = store.get("call-rec-1")
    assert stored.result_id == result_id and stored.recording_id == recording_id
    assert [a["action"] for a in vault.access_log(recording_id)] == ["fetch"]  # audited
    kinds = [e.kind for e in vault.evidence.entries(call_id="call-rec-1")]
    assert kinds[-1] == "qa_result"


async def test_batch_qa_is_a_resumable_job(vault: Vault, tmp_path: Path) -> None:
    ids = [ingest(vault, tmp_path, f"call-{i}", START + timedelta(hours=i)) for i in range(4)]
    outside = ingest(vault, tmp_path, "call-late", START + timedelta(days=3))
    jobs = BatchJobs(vault.evidence.engine, vault)
    seen: list[str] = []

    async def flaky(recording_id: str) -> str:
        seen.append(recording_id)
        if recording_id == sorted(ids)[1]:
            raise RuntimeError("ASR fell over")
        return f"result-{recording_id}"

    progress: list[tuple[int, int]] = []
    job = jobs.open(START, START + timedelta(days=1))
    assert job.total == 4 and not job.resumed
    status = await jobs.run(job.job_id, flaky, lambda n, t: progress.append((n, t)))
    assert (status.done, status.failed, status.status) == (3, 1, "open")
    assert progress[-1] == (4, 4) and outside not in seen
    again = jobs.open(START, START + timedelta(days=1))  # same range: the same job resumes
    assert again.job_id == job.job_id and again.resumed
    seen.clear()

    async def good(recording_id: str) -> str:
        seen.append(recording_id)
        return f"result-{recording_id}"

    final = await jobs.run(job.job_id, good)
    assert seen == [sorted(ids)[1]]  # only the one that had failed
    assert (final.done, final.failed, final.status) == (4, 0, "finished")
    assert jobs.open(START, START + timedelta(days=1)).job_id != job.job_id  # finished: new job
