"""Helpers of the console tests (imported by the tests and by conftest)."""

from __future__ import annotations

import asyncio
import math
import shutil
import struct
import wave
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from console.context import ConsoleContext
from console.permissions import Role
from ivr.settings import REPO_ROOT, Settings

T = TypeVar("T")
PASSWORD = "correct horse battery"
CHEAP = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def console_settings(data_dir: Path, **extra: object) -> Settings:
    """Settings over a private database, with private copies of the shipped flows and rules
    (the console publishes into them)."""
    flows_dir = data_dir / "flows"
    if not flows_dir.exists():
        shutil.copytree(REPO_ROOT / "ivr_flows", flows_dir)
    rules = data_dir / "rules" / "default.yaml"
    if not rules.exists():
        rules.parent.mkdir(parents=True)
        shutil.copy(REPO_ROOT / "compliance" / "rules" / "default.yaml", rules)
    options: dict[str, object] = {"redis_url": None, **extra}
    return Settings(
        data_dir=data_dir,
        database_url=f"sqlite:///{data_dir / 'ivr.db'}",
        flows_dir=flows_dir,
        rules_path=rules,
        **options,  # type: ignore[arg-type]
    )


def add_user(ctx: ConsoleContext, username: str, role: Role, **kw: object) -> None:
    ctx.auth.add_user(None, username, role, PASSWORD, **kw)  # type: ignore[arg-type]


def bearer(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    answer = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": username, "password": password},
    )
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def promo_flow(*, pitch_first: bool) -> dict[str, object]:
    """A marketing flow; with ``pitch_first`` the pitch plays before consent is asked."""
    nodes: dict[str, dict[str, object]] = {
        "disclosure": {"type": "disclosure", "next": "pitch" if pitch_first else "consent"},
        "consent": {
            "type": "consent_gate",
            "on_granted": "risk_warning" if pitch_first else "pitch",
            "on_refused": "refused",
            "on_no_answer": "no_answer",
        },
        "pitch": {
            "type": "play",
            "prompt": "pitch",
            "marketing": True,
            "next": "consent" if pitch_first else "risk_warning",
        },
        "risk_warning": {
            "type": "play",
            "prompt": "risk_warning",
            "barge_in": False,
            "next": "close",
        },
        "close": {"type": "hangup", "prompt": "pitch_close"},
        "refused": {"type": "hangup", "prompt": "refusal_close"},
        "no_answer": {"type": "hangup", "prompt": "no_answer_close"},
    }
    return {
        "flow": "wealth_promo",
        "description": "理财推介",
        "direction": "outbound",
        "purpose": "marketing",
        "start": "disclosure",
        "variables": {"product": "稳盈一年期理财产品"},
        "nodes": nodes,
    }


CLEAR_NUMBER = "13812345678"
CLEAR_FORMS = ("13812345678", "8613812345678", "138 1234 5678", "138-1234-5678")


def seed_recording(
    ctx: ConsoleContext,
    call_id: str = "call-1",
    number: str = CLEAR_NUMBER,
    disposition: str | None = "completed",
    business_type: str = "wealth",
    campaign: str = "spring",
    started: datetime = datetime(2026, 11, 30, 2, 0, tzinfo=UTC),
) -> str:
    """One stored recording of a call with ``number`` that ended as ``disposition``."""
    from ivr.phone import customer_number
    from records.recording import RecordingMeta

    src = ctx.settings.data_dir / f"{call_id}.wav"
    with wave.open(str(src), "wb") as out:  # one second of a quiet 440 Hz tone, 8 kHz
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(
            b"".join(
                struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * i / 8000)))
                for i in range(8000)
            )
        )
    info = ctx.vault.ingest_sync(
        src,
        RecordingMeta(
            call_id=call_id,
            business_type=business_type,
            direction="outbound",
            started_at=started,
            ended_at=started + timedelta(seconds=42),
            customer_number=customer_number(number),
            campaign=campaign,
            agent_id="AI-0001",
            flow_version="outbound_marketing@1",
            disposition=disposition,
        ),
    )
    return info.recording_id


def has_clear_number(text: str) -> bool:
    return any(form in text for form in CLEAR_FORMS)


QA_STARTED = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)
PROHIBITED = "这款理财保本保收益，您放心买"


def seed_qa_result(
    ctx: ConsoleContext,
    call_id: str,
    said: str = PROHIBITED,
    *,
    source: str = "call",
    started: datetime = QA_STARTED,
    purpose: str = "marketing",
) -> str:
    """A stored QA result of a call (of ``purpose``) in which the bot said ``said`` 4 s in."""
    from qa.calls import Turn, inspect_call
    from qa.rules import Speaker
    from qa.verdict import SpeechContext

    rules = ctx.qa.runtime.holder.current
    turns = [
        Turn(
            Speaker.BOT,
            f"您好，我是{ctx.settings.institution_name}智能客服，工号001，本次通话将录音",
            0,
            3000,
        ),
        Turn(Speaker.BOT, said, 4000, 6000, kind="marketing"),
    ]
    context = SpeechContext(
        call_id, purpose, "spring", "wealth_promo@1", "AI-0001", ctx.settings.institution_name
    )
    result = inspect_call(turns, context, rules)
    return run_coroutine(ctx.qa.store.save(result, source=source, call_started_at=started))


def run_coroutine(coro: Coroutine[Any, Any, T]) -> T:
    """Run ``coro`` to its end on a loop of its own, in a worker thread (callable from tests
    whose thread runs a loop already, e.g. Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
