"""The QA page in a real browser (Debian's Chromium): a supervisor opens a failed call's hits,
watches live alerts arrive from the Redis stream, downloads the PDF report; an agent is refused.
Screenshots go to tests/console/artifacts/."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from browser_support import CHROMIUM, LiveConsole, chromium, live_console, new_page, shot, sign_in
from console_support import run_coroutine, seed_qa_result
from playwright.sync_api import Browser, Page, expect
from redis.asyncio import Redis

from console.permissions import Role
from qa.alerts import LiveAlert, RedisAlertStream

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    prefix = f"test-con-qa-ui-{uuid.uuid4().hex[:10]}"
    users = {"sam": Role.SUPERVISOR, "alan": Role.AGENT}
    data = tmp_path_factory.mktemp("console-qa-live")
    with live_console(data, users, redis_url=REDIS_URL, redis_key_prefix=prefix) as console:
        yield console

    async def clean() -> None:
        redis = Redis.from_url(REDIS_URL)
        keys = [k async for k in redis.scan_iter(f"{prefix}:*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()

    run_coroutine(clean())


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as p:
        yield p


def publish(live: LiveConsole, call_id: str, phrase: str) -> None:
    now = time.time()
    alert = LiveAlert(
        call_id, "agent", 83_000, "promise_no_risk", "prohibited_promise", "critical", phrase,
        "零风险", "2026-12-01.3", now, now, campaign="spring", agent_id="agent-7",
    )  # fmt: skip

    async def go() -> None:
        stream = RedisAlertStream.from_url(REDIS_URL, live.ctx.settings.redis_key_prefix)
        await stream.publish(alert)
        await stream.aclose()

    run_coroutine(go())


def test_a_supervisor_reads_hits_live_alerts_and_the_report(live: LiveConsole, page: Page) -> None:
    seed_qa_result(live.ctx, "qa-call-1")
    publish(live, "live-call-1", "这个产品零风险")
    sign_in(page, live, "sam")
    page.goto(live.url + "/#/qa")
    row = page.get_by_test_id("qa-row-qa-call-1")
    expect(row).to_contain_text("不合格")
    row.click()
    hits = page.get_by_test_id("qa-hits")
    expect(hits).to_contain_text("保本保收益")
    expect(hits).to_contain_text("promise_principal")
    expect(hits).to_contain_text("0:04")  # offset into the recording
    expect(hits).to_contain_text("机器人")
    shot(page, "8-qa-results-hits")

    page.get_by_test_id("qa-tab-alerts").click()
    alerts = page.get_by_test_id("qa-alerts")
    expect(alerts).to_contain_text("live-call-1")
    publish(live, "live-call-2", "稳赚不赔的")  # arrives while the page is open
    expect(alerts).to_contain_text("live-call-2", timeout=10_000)
    expect(alerts).to_contain_text("1:23")
    shot(page, "9-qa-live-alerts")

    page.get_by_test_id("qa-tab-reports").click()
    page.get_by_test_id("qa-report-start").fill("2026-11-30")
    page.get_by_test_id("qa-report-end").fill("2026-12-01")
    with page.expect_download() as got:
        page.get_by_test_id("qa-report-pdf").click()
    download = got.value
    assert download.suggested_filename == "qa-report-2026-11-30-2026-12-01.pdf"
    saved = download.path()
    assert saved is not None and saved.read_bytes().startswith(b"%PDF")
    # a range the server refuses is said on the page, in Chinese (not saved as a file)
    page.get_by_test_id("qa-report-end").fill("2026-11-29")
    page.get_by_test_id("qa-report-html").click()
    refused = page.get_by_test_id("qa-report-msg")
    expect(refused).to_have_text("422: 结束日期须在开始日期之后 1 至 366 天")


def test_an_agent_is_refused_the_qa_page(live: LiveConsole, page: Page) -> None:
    sign_in(page, live, "alan")
    expect(page.locator("nav.sidenav")).not_to_contain_text("质量检查")
    page.goto(live.url + "/#/qa")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
