"""The QA tests' call stack: the real orchestrator built by the call composition root
(``flows.app.build_deps``, so QA is wired as in production) behind the outbound ESL server,
placed calls from the FreeSWITCH simulator, on the real Redis under a key prefix of its own.

:class:`LoggedPrompts` is the TTS of these calls: it writes a short silent WAV per text and keeps
the text of every file it made, so a test can say what the simulated caller heard by mapping
the files the simulator played back to their text.
"""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redis.asyncio import Redis

from bot.client import CallMetadata
from bot.directives import Directive
from compliance.consent_policy import NluResult
from flows.adapters import SidecarListener
from flows.app import Built, build_deps
from flows.orchestrator import CallOrchestrator
from flows.registry import DEFAULT_FLOWS_DIR, PROMPTS_FILE, FlowRegistry
from ivr.db import make_engine
from ivr.phone import CustomerNumber
from ivr.settings import Settings
from qa.alerts import RedisAlertStream
from records.evidence_store import SqlEvidenceLog
from speech.audio import Audio, write_wav
from telephony.esl import Execute
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, CallResult, SimulatedCall

FLOWS = Path(__file__).parent / "flows"
DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)
REDIS_URL = "redis://127.0.0.1:6379/0"


@dataclass
class LoggedPrompts:
    """TTS for the tests: text -> a short silent WAV; the text of every file made is kept."""

    spoken: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)  # file name -> its text

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path:
        self.spoken.append(text)
        path = scratch / f"tts-{hashlib.sha256(text.encode()).hexdigest()[:16]}.wav"
        if not path.exists():
            write_wav(path, Audio.silence(0.2))
        self.texts[path.name] = text
        return path


class ScriptedBot:
    """A dialogue bot that answers every caller turn with the next scripted directives."""

    def __init__(self, *replies: list[Directive]) -> None:
        self.replies = list(replies)
        self.sent: list[str] = []

    async def caller_handle(self, call_id: str, customer: CustomerNumber | None) -> str | None:
        return None

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]:
        self.sent.append(text)
        return self.replies.pop(0) if self.replies else []


class FixedNlu:
    """No Rasa in these calls: every utterance is an ``inform`` the policy reads as no answer."""

    async def parse(self, text: str) -> NluResult:
        return NluResult("inform", 0.9)


@dataclass
class QaStack:
    built: Built
    settings: Settings
    prompts: LoggedPrompts
    stream: RedisAlertStream
    log: SqlEvidenceLog  # the chain the calls append to, read directly

    def kinds(self, call_id: str) -> list[str]:
        return [e.kind for e in self.log.entries(call_id=call_id)]

    def played_texts(self, result: CallResult) -> list[str]:
        """What the simulated caller heard: the files the switch played, as text."""
        names = [
            c.arg.rsplit("/", 1)[-1]
            for c in result.commands
            if isinstance(c, Execute) and c.app in ("playback", "play_and_get_digits") and c.arg
        ]
        return [self.prompts.texts.get(n, f"<not synthesised: {n}>") for n in names]

    async def call(
        self, flow: str, script: CallerScript, *, customer: str | None = None, **deps: Any
    ) -> CallResult:
        """One simulated call of ``flow`` through the ESL server (``customer``: the number
        the dialler names, for outbound flows); returns once it is over (QA included)."""
        built = dataclasses.replace(
            self.built.deps, clock=lambda: DAYTIME, prompts=self.prompts, **deps
        )
        server = OutboundServer(CallOrchestrator(built), built.evidence, ServerConfig(10))
        try:
            host, port = await server.start("127.0.0.1", 0)
            sim = SimulatedCall(script, time_scale=0, write_requested_paths=True)
            sim.channel.variables["ivr_flow"] = flow
            if customer is not None:
                sim.channel.variables["ivr_customer_number"] = customer
            result = await sim.run(host, port, deadline_s=120)
            await server.wait_idle()
        finally:
            await server.close()
        return result


@asynccontextmanager
async def qa_stack(tmp_path: Path, *flows: str, **settings: Any) -> AsyncIterator[QaStack]:
    flows_dir = tmp_path / "flows"
    flows_dir.mkdir()
    shutil.copy(DEFAULT_FLOWS_DIR / PROMPTS_FILE, flows_dir / PROMPTS_FILE)
    for flow in flows:
        shutil.copy(FLOWS / f"{flow}.yaml", flows_dir / f"{flow}.yaml")
    prefix = f"test-qasim-{uuid.uuid4().hex[:10]}"
    config = Settings(
        data_dir=tmp_path / "data",
        institution_name="测试银行",
        bot_id="AI-7",
        rasa_processes=1,
        redis_url=REDIS_URL,
        redis_key_prefix=prefix,
        **settings,
    )
    built = await build_deps(
        config, listener=SidecarListener(None), registry=FlowRegistry(flows_dir), warm=False
    )
    redis = Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        log = SqlEvidenceLog(make_engine(config.sqlalchemy_url))
        yield QaStack(built, config, LoggedPrompts(), RedisAlertStream(redis, prefix), log)
    finally:
        await built.aclose()
        keys = [k async for k in redis.scan_iter(f"*{prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()
