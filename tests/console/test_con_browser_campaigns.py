"""The campaigns page in a real browser (Debian's Chromium): a campaign manager creates a
campaign (the server's refusals shown in Chinese next to the field at fault: a field's
validation error, then the campaign service's), uploads a list with one bad row
(row, column, why; never the number), starts and pauses it; an auditor reads without controls; a
designer is refused. Screenshots go to tests/console/artifacts/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import CHROMIUM, LiveConsole, chromium, live_console, new_page, shot, sign_in
from campaign_examples import LIST_CSV, draft
from playwright.sync_api import Browser, Page, expect

from console.permissions import Role

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
MANAGER = Role.CAMPAIGN_MANAGER


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    users = {"mia": MANAGER, "audrey": Role.AUDITOR, "dan": Role.DESIGNER}
    with live_console(tmp_path_factory.mktemp("console-campaigns-live"), users) as console:
        yield console


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as p:
        yield p


def test_a_manager_creates_imports_starts_and_pauses(
    live: LiveConsole, page: Page, tmp_path: Path
) -> None:
    sign_in(page, live, "mia")
    expect(page.get_by_test_id("who")).to_contain_text("外呼活动经理")
    nav = page.locator("nav.sidenav a")
    expect(nav).to_have_text(["总览", "免打扰名单", "外呼活动"])  # nothing about recordings
    page.locator("nav.sidenav").get_by_text("外呼活动").click()
    page.get_by_test_id("campaign-new").click()
    form = page.get_by_test_id("campaign-form")
    form.locator("input[name=name]").fill("春季服务通知")
    form.locator("select[name=flow]").select_option("outbound_notice")
    form.locator("select[name=purpose]").select_option("service")
    form.locator("input[name=caller_ids]").fill("95588")
    form.locator("input[name=windows]").fill("23:00-23:30")  # outside the rules' window
    form.locator("input[name=start_date]").fill("2026-05-01")
    form.locator("input[name=end_date]").fill("2099-12-31")
    form.locator("input[name=max_concurrency]").fill("20000")  # pydantic's own check (le)
    page.get_by_test_id("campaign-create").click()
    # the server's messages in the console's language: a field's validation error...
    expect(page.get_by_test_id("cf-error-max_concurrency")).to_have_text("应小于或等于 10000")
    shot(page, "10-campaign-create-field-error-zh")
    form.locator("input[name=max_concurrency]").fill("10")
    page.get_by_test_id("campaign-create").click()
    # ... and the campaign service's refusal, next to the field at fault
    expect(page.get_by_test_id("cf-error-windows")).to_have_text(
        "活动的每日时段超出了合规规则允许的“服务通知”呼叫时段"
    )
    expect(page.get_by_test_id("cf-error-max_concurrency")).to_have_count(0)
    expect(page.get_by_test_id("cf-error-name")).to_have_count(0)
    shot(page, "10-campaign-create-refused")

    form.locator("input[name=windows]").fill("09:00-12:00, 14:00-20:00")
    page.get_by_test_id("campaign-create").click()
    expect(page.get_by_test_id("campaign-title")).to_have_text("春季服务通知")
    expect(page.get_by_test_id("campaign-state")).to_have_text("草稿")

    listing = tmp_path / "名单.csv"
    listing.write_text(LIST_CSV, encoding="utf-8")  # the third row's number does not parse
    page.get_by_test_id("campaign-file").set_input_files(str(listing))
    page.get_by_test_id("campaign-upload").click()
    errors = page.get_by_test_id("import-errors")
    expect(errors.locator("tbody tr")).to_have_count(1)
    expect(errors.locator("tbody tr td")).to_have_text(["4", "number", "不是有效的电话号码"])
    assert "12345" not in page.get_by_test_id("import-result").inner_text()
    expect(page.get_by_test_id("campaign-contacts")).to_have_text("2")
    expect(page.get_by_test_id("campaign-states")).to_contain_text("排队中")
    shot(page, "11-campaign-list-imported")

    page.get_by_test_id("campaign-start").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("进行中")
    page.get_by_test_id("campaign-pause").click()
    expect(page.get_by_test_id("campaign-state")).to_have_text("已暂停")
    expect(page.get_by_test_id("campaign-resume")).to_be_visible()
    expect(page.get_by_test_id("campaign-pause")).to_have_count(0)
    shot(page, "12-campaign-paused")

    href = page.get_by_test_id("campaign-export").get_attribute("href")
    assert href is not None
    export = page.request.get(live.url + href)  # the signed-in browser's cookies
    assert export.status == 200 and export.headers["content-type"].startswith("text/csv")
    assert "139****5001" in export.text() and "13912345001" not in export.text()

    page.get_by_text("← 外呼活动").click()
    row = page.get_by_test_id("campaign-row-春季服务通知")
    expect(row).to_contain_text("已暂停")
    expect(row.locator(".progress")).to_contain_text("0%")
    shot(page, "13-campaigns-list")


def test_an_auditor_reads_without_controls(live: LiveConsole, page: Page) -> None:
    camp = draft(live.ctx, with_list=True)  # seeded in the console's own database
    sign_in(page, live, "audrey")
    expect(page.locator("nav.sidenav")).to_contain_text("外呼活动")
    page.goto(live.url + "/#/campaigns")
    expect(page.get_by_test_id("campaigns")).to_contain_text(live.ctx.campaigns.repo.get(camp).name)
    expect(page.get_by_test_id("campaign-new")).to_have_count(0)
    page.goto(live.url + f"/#/campaigns/{camp}")
    expect(page.get_by_test_id("campaign-state")).to_have_text("草稿")
    expect(page.get_by_test_id("campaign-contacts")).to_have_text("2")
    for control in ("start", "pause", "resume", "stop", "upload", "file"):
        expect(page.get_by_test_id(f"campaign-{control}")).to_have_count(0)
    expect(page.get_by_test_id("campaign-export")).to_be_visible()
    shot(page, "14-campaign-auditor")


def test_a_designer_is_refused_the_campaigns_page(live: LiveConsole, page: Page) -> None:
    sign_in(page, live, "dan")
    expect(page.locator("nav.sidenav")).not_to_contain_text("外呼活动")
    page.goto(live.url + "/#/campaigns")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
