"""Several Rasa servers: each call's conversation stays on one server, chosen from its call id."""

from __future__ import annotations

import collections
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.client import CallMetadata, RasaClient, shard_for
from ivr.settings import Settings
from shell import rasa_model
from shell.services import ManagedProcess, free_port, rasa_spec, runtime_endpoints


def test_shard_is_stable_and_spreads_calls() -> None:
    calls = [f"call-{uuid.UUID(int=i)}" for i in range(4000)]
    assert [shard_for(c, 3) for c in calls] == [shard_for(c, 3) for c in calls]
    assert shard_for("call-42", 3) == 1  # CRC-32: the same in every process and release
    spread = collections.Counter(shard_for(c, 2) for c in calls)
    assert min(spread.values()) > 1800


def test_settings_give_consecutive_ports() -> None:
    settings = Settings(rasa_url="http://127.0.0.1:5005", rasa_processes=3)
    assert settings.rasa_urls == [
        "http://127.0.0.1:5005",
        "http://127.0.0.1:5006",
        "http://127.0.0.1:5007",
    ]
    v6 = Settings(rasa_url="http://[::1]:5005", rasa_processes=2)
    assert v6.rasa_urls == ["http://[::1]:5005", "http://[::1]:5006"]
    one = Settings(rasa_url="http://10.0.0.5:6000/", rasa_processes=1)
    assert one.rasa_urls == ["http://10.0.0.5:6000"]
    assert Settings().rasa_processes == 2  # the measured default (README, Performance)


@pytest.fixture(scope="module")
def second_rasa(rasa_stack: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second Rasa server on the same model and action server as ``rasa_stack``."""
    model = rasa_model.ensure_model()
    run_dir: Path = tmp_path_factory.mktemp("rasa-2")
    action_port = int(rasa_stack.action_url.rsplit(":", 1)[1])
    port = free_port()
    server = ManagedProcess(
        rasa_spec(model.path, port, runtime_endpoints(action_port, run_dir), 180.0), run_dir
    )
    try:
        server.wait_ready()
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


async def test_conversations_stay_on_their_server(rasa_stack: Any, second_rasa: str) -> None:
    urls = [rasa_stack.rasa_url, second_rasa]
    by_shard: dict[int, list[str]] = {0: [], 1: []}
    while min(len(v) for v in by_shard.values()) < 3:
        call_id = f"shard-{uuid.uuid4().hex}"
        by_shard[shard_for(call_id, 2)].append(call_id)
    calls = by_shard[0][:3] + by_shard[1][:3]
    async with RasaClient(urls, timeout_s=10) as client:
        assert client.shards == 2
        for call_id in calls:
            meta = CallMetadata(call_id, "测试银行", "AI-0001", purpose="marketing")
            first = await client.send(call_id, "喂你好", meta)
            again = await client.send(call_id, "你是哪个公司的", meta)
            assert first and again
        singles = [RasaClient(url, timeout_s=10) for url in urls]
        try:
            for call_id in calls:
                home = shard_for(call_id, 2)
                # both turns on the home server; the other never saw the call
                assert await _user_texts(singles[home], call_id) == ["喂你好", "你是哪个公司的"]
                assert await _user_texts(singles[1 - home], call_id) == []
        finally:
            for single in singles:
                await single.aclose()


async def _user_texts(client: RasaClient, call_id: str) -> list[str]:
    tracker = await client.tracker(call_id)
    return [e["text"] for e in tracker.get("events") or [] if e.get("event") == "user"]
