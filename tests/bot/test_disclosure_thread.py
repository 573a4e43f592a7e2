"""First vertical thread (invariant 4): a greeting through the app's Rasa client to the real
Rasa server and action server returns the disclosure built from message metadata."""

from __future__ import annotations

import uuid

import pytest

from bot.client import CallMetadata, RasaClient
from bot.directives import Say

pytestmark = pytest.mark.rasa


def _metadata(call_id: str) -> CallMetadata:
    suffix = uuid.uuid4().hex[:4].upper()
    return CallMetadata(
        call_id=call_id,
        institution=f"测试{suffix}银行",
        bot_id=f"BOT-{suffix}",
        purpose="service",
    )


async def test_inv4_greeting_returns_disclosure_from_metadata(rasa_stack) -> None:
    call_id = f"call-{uuid.uuid4().hex}"
    meta = _metadata(call_id)
    async with RasaClient(rasa_stack.rasa_url, timeout_s=10) as client:
        directives = await client.send(call_id, "喂你好", meta)

    assert directives, "the bot said nothing"
    first = directives[0]
    assert isinstance(first, Say)
    assert first.kind == "disclosure"
    assert first.barge_in is False
    assert meta.institution in first.text
    assert meta.bot_id in first.text
    assert "录音" in first.text


async def test_inv4_disclosure_is_spoken_once_per_call(rasa_stack) -> None:
    call_id = f"call-{uuid.uuid4().hex}"
    meta = _metadata(call_id)
    async with RasaClient(rasa_stack.rasa_url, timeout_s=10) as client:
        await client.send(call_id, "你好", meta)
        second = await client.send(call_id, "你好", meta)

    assert second, "the bot said nothing on the second turn"
    assert all(not (isinstance(d, Say) and d.kind == "disclosure") for d in second)


async def test_call_metadata_fills_slots(rasa_stack) -> None:
    call_id = f"call-{uuid.uuid4().hex}"
    meta = _metadata(call_id)
    async with RasaClient(rasa_stack.rasa_url, timeout_s=10) as client:
        await client.send(call_id, "你好", meta)
        tracker = await client.tracker(call_id)

    slots = tracker["slots"]
    assert slots["institution"] == meta.institution
    assert slots["bot_id"] == meta.bot_id
    assert slots["call_id"] == call_id
