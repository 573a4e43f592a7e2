"""The console's QA API: per-call results with every hit, the live alert stream read from
Redis, reports as HTML and PDF, batch QA of stored recordings with progress."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from console_support import (
    CHEAP,
    PROHIBITED,
    add_user,
    bearer,
    console_settings,
    run_coroutine,
    seed_qa_result,
    seed_recording,
)
from fastapi.testclient import TestClient
from helpers.clock import FakeClock
from redis.asyncio import Redis

from console.app import create_app
from console.audit import AuditKind
from console.context import ConsoleContext, build_context
from console.permissions import Role
from qa.alerts import LiveAlert, RedisAlertStream
from qa.calls import Turn, inspect_call
from qa.reload import DEFAULT_RULES_PATH as DEFAULT_QA_RULES
from qa.rules import Speaker
from qa.verdict import SpeechContext
from records.vault import Actor

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
def officer(ctx: ConsoleContext, client: TestClient) -> dict[str, str]:
    add_user(ctx, "olga", Role.COMPLIANCE_OFFICER)
    return bearer(client, "olga")


def test_a_calls_result_lists_each_hit_with_speaker_offset_phrase_rule_and_version(
    ctx: ConsoleContext, client: TestClient, officer: dict[str, str]
) -> None:
    seed_qa_result(ctx, "call-bad")
    seed_qa_result(ctx, "call-good", "请问还有什么可以帮您？", purpose="service")
    answer = client.get("/api/v1/qa/calls/call-bad", headers=officer)
    assert answer.status_code == 200, answer.text
    [result] = answer.json()
    assert result["passed"] is False and result["score"] < 80
    version = ctx.qa.runtime.holder.current.version
    assert result["rules_version"] == version
    hits = [f for f in result["findings"] if f["kind"] == "hit"]
    assert {h["rule"] for h in hits} >= {"promise_principal", "promise_return"}
    for h in hits:
        assert h["speaker"] == "bot"
        assert 4000 <= h["offset_ms"] < 6000  # inside the sentence, 4 s into the call
        assert h["phrase"] in PROHIBITED
        assert h["rules_version"] == version

    failed = client.get("/api/v1/qa/results", params={"passed": "false"}, headers=officer).json()
    assert [r["call_id"] for r in failed["items"]] == ["call-bad"]
    assert failed["total"] == 1
    everything = client.get("/api/v1/qa/results", headers=officer).json()
    assert {r["call_id"] for r in everything["items"]} == {"call-bad", "call-good"}
    missing = client.get("/api/v1/qa/calls/nope", headers=officer)
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


def test_an_agent_may_not_read_qa(ctx: ConsoleContext, client: TestClient) -> None:
    add_user(ctx, "alan", Role.AGENT)
    answer = client.get("/api/v1/qa/results", headers=bearer(client, "alan"))
    assert answer.status_code == 403
    denied = [e for e in ctx.evidence.entries() if e.kind == AuditKind.ACCESS_DENIED]
    assert denied[-1].payload["permission"] == "qa.read"


def test_reports_download_as_html_and_pdf(
    ctx: ConsoleContext, client: TestClient, officer: dict[str, str]
) -> None:
    seed_qa_result(ctx, "call-bad")
    window = {"start": "2026-11-30", "end": "2026-12-01"}
    html = client.get("/api/v1/qa/report", params=window | {"format": "html"}, headers=officer)
    assert html.status_code == 200
    assert html.headers["content-type"].startswith("text/html")
    assert "qa-report-2026-11-30-2026-12-01.html" in html.headers["content-disposition"]
    assert "spring" in html.text and "promise_principal" in html.text
    pdf = client.get("/api/v1/qa/report", params=window | {"format": "pdf"}, headers=officer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    backwards = client.get(
        "/api/v1/qa/report", params={"start": "2026-12-01", "end": "2026-11-30"}, headers=officer
    )
    assert backwards.status_code == 422


def test_without_a_stream_the_alert_view_says_it_is_not_configured(
    client: TestClient, officer: dict[str, str]
) -> None:
    answer = client.get("/api/v1/qa/alerts", headers=officer)
    assert answer.json() == {"available": False, "alerts": [], "last_id": "0-0"}


def alert(call_id: str, phrase: str) -> LiveAlert:
    now = time.time()
    return LiveAlert(
        call_id, "agent", 12_000, "promise_no_risk", "prohibited_promise", "critical", phrase,
        "零风险", "2026-12-01.2", now, now, campaign="spring", agent_id="agent-7",
    )  # fmt: skip


@pytest.fixture
def redis_ctx(tmp_path: Path) -> Iterator[ConsoleContext]:
    prefix = f"test-con-qa-{uuid.uuid4().hex[:10]}"
    settings = console_settings(tmp_path, redis_url=REDIS_URL, redis_key_prefix=prefix)
    yield build_context(settings, hasher=CHEAP, clock=FakeClock())

    async def clean() -> None:
        redis = Redis.from_url(REDIS_URL)
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

    run_coroutine(clean())


def test_supervisors_read_the_live_alert_stream_by_polling(redis_ctx: ConsoleContext) -> None:
    stream = RedisAlertStream.from_url(REDIS_URL, redis_ctx.settings.redis_key_prefix)

    def publish(a: LiveAlert) -> None:
        async def go() -> None:
            await stream.publish(a)
            await stream.aclose()

        run_coroutine(go())

    publish(alert("call-1", "这个产品零风险"))
    add_user(redis_ctx, "sam", Role.SUPERVISOR)
    with TestClient(create_app(redis_ctx)) as client:
        sam = bearer(client, "sam")
        first = client.get("/api/v1/qa/alerts", headers=sam).json()
        assert first["available"] is True
        [seen] = first["alerts"]
        assert (seen["call_id"], seen["speaker"], seen["offset_ms"]) == ("call-1", "agent", 12_000)
        assert seen["phrase"] == "这个产品零风险" and seen["rule"] == "promise_no_risk"
        assert first["last_id"] == seen["id"]
        quiet = client.get(
            "/api/v1/qa/alerts", params={"after": first["last_id"], "wait_ms": 50}, headers=sam
        ).json()
        assert quiet["alerts"] == [] and quiet["last_id"] == first["last_id"]
        publish(alert("call-2", "稳赚不赔"))
        later = client.get(
            "/api/v1/qa/alerts", params={"after": first["last_id"], "wait_ms": 2000}, headers=sam
        ).json()
        assert [a["call_id"] for a in later["alerts"]] == ["call-2"]
        assert later["last_id"] > first["last_id"]


def test_a_batch_job_inspects_stored_recordings_in_the_background_with_progress(
    tmp_path: Path,
) -> None:
    inspected: list[str] = []

    def make_inspector() -> object:  # the ASR is replaced by what the agent is known to say
        async def inspect(recording_id: str) -> str:
            info = ctx.vault.get(Actor("qa-test", "compliance_officer"), recording_id)
            turns = [Turn(Speaker.AGENT, PROHIBITED, 2000, 4000)]
            result = inspect_call(
                turns, SpeechContext(info.call_id, "service"), ctx.qa.runtime.holder.current
            )
            inspected.append(recording_id)
            return await ctx.qa.store.save(
                result, source="recording", call_started_at=info.started_at,
                recording_id=recording_id,
            )  # fmt: skip

        return inspect

    ctx = build_context(
        console_settings(tmp_path),
        hasher=CHEAP,
        clock=FakeClock(),
        qa_inspector=make_inspector,  # type: ignore[arg-type]
    )
    ids = [seed_recording(ctx, f"call-{n}") for n in range(3)]
    add_user(ctx, "olga", Role.COMPLIANCE_OFFICER)
    with TestClient(create_app(ctx)) as client:
        olga = bearer(client, "olga")
        window = {"started_from": "2026-11-30T00:00:00Z", "started_to": "2026-12-01T00:00:00Z"}
        started = client.post("/api/v1/qa/batch", json=window, headers=olga)
        assert started.status_code == 202, started.text
        job = started.json()
        assert job["total"] == 3
        deadline = time.monotonic() + 20
        while True:
            progress = client.get(f"/api/v1/qa/batch/{job['job_id']}", headers=olga).json()
            if progress["status"] == "finished" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert progress["status"] == "finished", progress
        assert (progress["done"], progress["failed"], progress["running"]) == (3, 0, False)
        assert sorted(inspected) == sorted(ids)
        [result] = client.get("/api/v1/qa/calls/call-1", headers=olga).json()
        assert result["source"] == "recording" and result["passed"] is False
        listed = client.get("/api/v1/qa/batch", headers=olga).json()
        assert [j["job_id"] for j in listed] == [job["job_id"]]
        again = client.post("/api/v1/qa/batch", json=window, headers=olga).json()
        assert again["job_id"] != job["job_id"]  # a finished range starts a new job
    started_evidence = [e for e in ctx.evidence.entries() if e.kind == AuditKind.QA_BATCH_STARTED]
    assert started_evidence[0].payload["actor"] == "olga"
    assert started_evidence[0].payload["recordings"] == 3


def test_a_sentence_is_checked_against_the_rules_in_force(
    client: TestClient, officer: dict[str, str]
) -> None:
    """``ivr qa check`` through the API: the bot's sentence is flagged with its fallback."""
    olga = officer
    said = client.post(
        "/api/v1/qa/check", json={"text": "这款产品是保本的", "speaker": "bot"}, headers=olga
    ).json()
    assert said["flagged"] and said["hits"][0]["category"] == "prohibited_promise"
    assert said["bot_says_instead"] and said["rules_version"]
    clean = client.post(
        "/api/v1/qa/check", json={"text": "本产品不保本", "speaker": "agent"}, headers=olga
    ).json()
    assert clean == {
        "rules_version": said["rules_version"],
        "model_version": said["model_version"],
        "speaker": "agent",
        "flagged": False,
        "hits": [],
        "model_hits": [],
        "bot_says_instead": None,
    }
    # the same whole check as live QA and the post-call result: the model's review hits too
    missed = "咱们这个年金计划到期您放进去的都能拿回来，还有额外的搜益。"  # the rules miss it
    review = client.post(
        "/api/v1/qa/check", json={"text": missed, "speaker": "agent"}, headers=olga
    ).json()
    assert not review["flagged"] and review["hits"] == [] and review["model_version"]
    assert [m["category"] for m in review["model_hits"]] == ["prohibited_promise"]
    assert review["model_hits"][0]["model_version"] == review["model_version"]


def test_the_rules_in_force_are_summarised_and_a_rules_text_is_validated(
    client: TestClient, officer: dict[str, str]
) -> None:
    """``ivr qa rules [FILE]`` through the API: the summary of the rules in force, and a text's
    every issue with its line (a rule whose own hit example it does not flag is refused)."""
    olga = officer
    in_force = client.get("/api/v1/qa/rules", headers=olga).json()
    assert in_force["version"] and len(in_force["sha256"]) == 64
    assert {"id", "category", "severity"} <= set(in_force["rules"][0])
    text = DEFAULT_QA_RULES.read_text(encoding="utf-8")
    valid = client.post("/api/v1/qa/rules/check", json={"content": text}, headers=olga).json()
    assert valid["ok"] and valid["issues"] == []
    assert valid["rules"]["sha256"] == in_force["sha256"]
    data = yaml.safe_load(text)
    data["rules"][0]["examples"] = {"hit": ["今天天气很好"], "clean": []}
    broken = client.post(
        "/api/v1/qa/rules/check", json={"content": yaml.safe_dump(data)}, headers=olga
    ).json()
    assert broken["ok"] is False and broken["rules"] is None
    (issue,) = broken["issues"]
    assert issue["code"] == "rules" and issue["params"]["field"] == "rules.0.examples.hit.0"
    assert issue["line"] > 1
    assert issue["params"]["error_code"] == "qa.example_missed"
    assert issue["params"]["example"] == "今天天气很好"
    empty = client.post("/api/v1/qa/rules/check", json={"content": ""}, headers=olga).json()
    assert empty["ok"] is False and empty["issues"][0]["params"]["field"] == "(file)"
    assert empty["issues"][0]["params"]["error_code"] == "rules.empty"
    data["rules"][0]["examples"] = {"hit": [], "clean": []}
    twice = dict(data, rules=[*data["rules"], data["rules"][0]])
    (dup,) = client.post(
        "/api/v1/qa/rules/check", json={"content": yaml.safe_dump(twice)}, headers=olga
    ).json()["issues"]
    assert dup["params"]["error_code"] == "qa.duplicate_rule"
    regex = dict(data["rules"][0], id="bad_regex", patterns=["保("], anchors=["保"])
    bad = dict(data, rules=[*data["rules"], regex])
    (wrong,) = client.post(
        "/api/v1/qa/rules/check", json={"content": yaml.safe_dump(bad)}, headers=olga
    ).json()["issues"]
    assert wrong["params"]["error_code"] == "qa.bad_regex" and wrong["params"]["position"] == 1
