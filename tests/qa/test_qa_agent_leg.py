"""Live QA of a human agent's leg: the leg's audio forked to the audio fork server (real VAD,
scripted ASR), each final fed to the calls' QA port (``build_call_qa``: real Redis, SQLite),
a prohibited wording read back from the alert stream within a second of its final."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

from helpers.wait import eventually_found
from redis.asyncio import Redis

from flows.ports import InspectedCall, SpokenTurn
from ivr.db import make_engine, migrate
from ivr.settings import Settings
from qa.agent_leg import agent_leg_call, leg_offset_ms, watch_agent_leg
from qa.alerts import LiveAlert, RedisAlertStream
from qa.call_port import CallInspection
from qa.compiled import CompiledRules
from qa.service import build_call_qa
from records.evidence_store import SqlEvidenceLog
from speech.audio import read_wav
from speech.fakes import ScriptedASR
from speech.fork_client import fork_audio
from speech.stream_server import AudioForkServer
from speech.vad import EndpointerConfig, make_vad

FIXTURES = Path(__file__).resolve().parents[1] / "speech" / "fixtures"
REDIS_URL = "redis://127.0.0.1:6379/0"
PROHIBITED = "这款理财保本保收益，您放心买。"
CLEAN = "好的，我帮您登记一下。"


class Timed:
    """The calls' QA port, noting when each final reached it."""

    def __init__(self, inner: CallInspection) -> None:
        self.inner = inner
        self.finals: list[tuple[float, SpokenTurn]] = []

    def vet_bot_sentence(self, call: InspectedCall, text: str, kind: str, offset_ms: int) -> str:
        return self.inner.vet_bot_sentence(call, text, kind, offset_ms)

    def agent_said(self, call: InspectedCall, turn: SpokenTurn) -> None:
        self.finals.append((time.time(), turn))
        self.inner.agent_said(call, turn)

    async def call_finished(self, call: InspectedCall, turns: object, started_at: object) -> None:
        raise AssertionError("not at the end of an agent leg")


def test_only_an_agent_legs_fork_is_followed() -> None:
    meta = {"leg": "agent", "call_id": "c-1", "agent_id": "1001", "purpose": "marketing"}
    call = agent_leg_call(meta, "leg-1")
    assert call is not None and call.call_id == "c-1" and call.bot_id == "1001"
    assert call.purpose == "marketing"
    assert agent_leg_call({"uuid": "c-1"}, "c-1") is None  # the caller's own fork
    assert leg_offset_ms({"offset_ms": "61000"}) == 61000
    assert leg_offset_ms({"offset_ms": "soon"}) == 0 == leg_offset_ms({})


async def test_an_agents_prohibited_final_is_a_live_alert_within_a_second(
    tmp_path: Path, shipped: CompiledRules
) -> None:
    url = f"sqlite:///{tmp_path / 'qa.db'}"
    await asyncio.to_thread(migrate, url)
    prefix = f"test-qa-leg-{uuid.uuid4().hex[:10]}"
    settings = Settings(
        data_dir=tmp_path, database_url=url, redis_url=REDIS_URL, redis_key_prefix=prefix
    )
    engine = make_engine(url)
    qa = await build_call_qa(settings, SqlEvidenceLog(engine), engine)
    assert isinstance(qa, CallInspection)
    timed = Timed(qa)
    server = AudioForkServer(
        lambda rate: make_vad("webrtc", rate, EndpointerConfig(end_ms=500)),
        asr=ScriptedASR([PROHIBITED, CLEAN]),
    )
    client = Redis.from_url(REDIS_URL, decode_responses=True)
    stream = RedisAlertStream(client, prefix)
    await server.start()
    try:
        follower = asyncio.create_task(watch_agent_leg(server, "leg-7", timed))
        meta = {
            "uuid": "leg-7",
            "leg": "agent",
            "call_id": "call-7",
            "agent_id": "1001",
            "purpose": "marketing",
            "flow": "wealth",
            "offset_ms": 60000,
        }
        # two utterances (speech at ~1 s and ~3.8 s of the fixture), as the agent said them
        await fork_audio(
            f"{server.url}/audio/leg-7", read_wav(FIXTURES / "a_sil_pattern.wav"), meta
        )
        assert await asyncio.wait_for(follower, 10) == 2
        (heard_at, first), (_t, second) = timed.finals
        assert first.speaker == "agent" and first.text == PROHIBITED
        assert 60900 <= first.start_ms < (first.end_ms or 0) <= second.start_ms  # recording offsets

        async def alert() -> tuple[float, list[LiveAlert]] | None:
            entries = await stream.read("0-0", count=100)
            found = [a for _id, a in entries if a.call_id == "call-7"]
            return (time.time(), found) if found else None

        read_at, alerts = await eventually_found(alert, 10, what="the agent's live alert")
        assert read_at - heard_at < 1.0  # within a second of the final (bench: milliseconds)
        assert {a.speaker for a in alerts} == {"agent"} and not any(a.blocked for a in alerts)
        assert {a.rule for a in alerts} == {h.rule_id for h in shipped.matcher.scan(PROHIBITED)}
        assert all(a.agent_id == "1001" and a.flow == "wealth" for a in alerts)
        assert all(a.rules_version == shipped.version for a in alerts)
        assert all(a.offset_ms >= first.start_ms for a in alerts)
        await qa.hooks.drain()
        # the clean final raised nothing: every alert is from the first one
        assert qa.hooks.published == len(alerts)
    finally:
        await server.stop()
        await qa.aclose()
        await client.delete(stream.key)
        await client.aclose()
        engine.dispose()
