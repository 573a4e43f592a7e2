"""Every page as its people see it, in Simplified Chinese (the default) and in English (Debian's
Chromium): a compliance officer, a supervisor and a designer walk the console over seeded data
(a DNC entry and a consent written during a call, a recording, a QA result, a flow change
waiting for approval, a work ticket, a callback the gate refused, a simulated call). A
screenshot per page and language goes to tests/console/artifacts/ (tour-*.png).

In Chinese every word on a page is Chinese but the data's own identifiers (flow, node, prompt
and user names, call ids: shaped like ``wealth_promo``, ``tour-call-1``, ``v1``) and a few
technical names (DTMF, QA, PDF, ...): an English label, an untranslated state or reason, a
server message in English fails here. Nothing runs off a page sideways; the dashboard reads its
figures again while open; typed times are the institution's, whatever zone the browser runs in;
recordings are found page by page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import cast

import pytest
import sqlalchemy as sa
import yaml
from browser_support import (
    ARGS,
    CHROMIUM,
    LiveConsole,
    live_console,
    shot,
    sign_in,
)
from console_support import promo_flow, seed_qa_result, seed_recording
from floor_examples import callback_ticket, work_ticket
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from agents.tables import callback_work
from console.permissions import Role
from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
USERS = {"olga": Role.COMPLIANCE_OFFICER, "sam": Role.SUPERVISOR, "dora": Role.DESIGNER}
# Latin words that are names, not English left untranslated.
NAMES = {"olga", "sam", "dora", "spring", "DTMF", "QA", "ASR", "HTML", "PDF", "CSV", "XLSX"}
NAMES |= {"Webhook", "IVR", "DNC", "ID", "p95", "p90", "crm"}
NAMES |= {"English"}  # the language switch names the other language in its own words
NAMES |= {"product"}  # the tour flow's variable
NAMES |= {"supervisor"}  # the user who claimed the seeded callback
# ... and the data's identifiers: the shipped prompts' ids, the tour flow's node ids
NAMES |= set(yaml.safe_load((REPO_ROOT / "ivr_flows" / "prompts.yaml").read_text())["prompts"])
NAMES |= set(cast(dict[str, object], promo_flow(pitch_first=False)["nodes"]))
# Text nodes inside these are identifiers or the user's own text (code, diffs, inputs, graph).
SKIP = "code, pre, .ident, textarea, input, svg, .react-flow, .phrase, option"
TEXT_OF_PAGE = """(skip) => {
  const out = [];
  let parent = null;  // React splits "v{n}" into text nodes of one element: keep them one word
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.parentElement || n.parentElement.closest(skip)) continue;
    if (n.parentElement === parent) out[out.length - 1] += n.nodeValue;
    else out.push(n.nodeValue);
    parent = n.parentElement;
  }
  document.querySelectorAll("input[placeholder], textarea[placeholder]")
    .forEach((e) => out.push(e.getAttribute("placeholder")));
  return out.join(" | ");
}"""
SIDEWAYS = """() => {
  const main = document.querySelector("main.content");
  return Math.max(0, main.scrollWidth - main.clientWidth);
}"""
WORD = re.compile(r"[A-Za-z0-9_.@:/*-]*[A-Za-z][A-Za-z0-9_.@:/*-]*")


def english_words(page: Page, skip: str = SKIP) -> list[str]:
    """The words on the page that are neither Chinese nor a name or identifier."""
    text = page.evaluate(TEXT_OF_PAGE, skip)
    words = {w.strip(".:") for w in WORD.findall(text)}
    return sorted(w for w in words if w and w not in NAMES and not re.search(r"[\d_@/*-]", w))


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with live_console(tmp_path_factory.mktemp("console-tour"), USERS) as console:
        ctx = console.ctx
        seed_recording(ctx, "tour-call-1", business_type="marketing", disposition="refused")
        seed_qa_result(ctx, "tour-qa-1")
        work_ticket(ctx)
        refused = callback_ticket(ctx, Role.SUPERVISOR, claim=True)
        with ctx.engine.begin() as conn:  # the gate refused the call back: the number is on DNC
            conn.execute(
                sa.update(callback_work)
                .where(callback_work.c.ticket_id == refused)
                .values(attempts=1, result="denied:dnc")
            )
        yield console


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


def new_context(browser: Browser, zone: str = "Asia/Shanghai") -> BrowserContext:
    return browser.new_context(
        viewport={"width": 1440, "height": 960}, locale="zh-CN", timezone_id=zone
    )


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = new_context(browser)
    yield context.new_page()
    context.close()


def call_api(page: Page, live: LiveConsole, method: str, path: str, body: object) -> object:
    """A request as the page's signed-in user (its session cookie and CSRF token)."""
    csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "ivr_csrf")
    answer = page.request.fetch(
        live.url + "/api/v1" + path, method=method, data=body, headers={"X-CSRF-Token": csrf}
    )
    assert answer.ok, answer.text()
    return answer.json()


def speaking(page: Page, lang: str) -> None:
    """The console in ``lang`` (the top bar's switch keeps it in the browser)."""
    page.evaluate("(lang) => localStorage.setItem('ivr_lang', lang)", lang)
    page.reload()


def visit(page: Page, live: LiveConsole, route: str, ready: str, name: str) -> None:
    """Open ``route``, wait for ``ready``, keep a screenshot; in Chinese, no English left."""
    page.goto(f"{live.url}/#/{route}")
    expect(page.get_by_test_id(ready).first).to_be_visible()
    page.wait_for_load_state("networkidle")  # the page's other requests answered too
    lang = page.evaluate("localStorage.getItem('ivr_lang') || 'zh-CN'")
    page.get_by_test_id(ready).first.scroll_into_view_if_needed()  # the page scrolls inside
    page.mouse.move(0, 0)  # no chart tooltip in the picture
    shot(page, f"tour-{name}-{lang}")
    # nothing runs off the page sideways (the page scrolls down, never right)
    assert page.evaluate(SIDEWAYS) == 0, name
    if lang == "zh-CN":
        assert english_words(page) == [], name


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_compliance_officer_reads_every_page_in_her_language(
    live: LiveConsole, page: Page, lang: str
) -> None:
    sign_in(page, live, "olga")
    call_api(page, live, "POST", "/dnc", {
        "number": "139 0000 1234", "source": "call", "reason": "refused_contact"
    })  # fmt: skip
    call_api(page, live, "POST", "/consents", {
        "number": "139 0000 5678", "purpose": "marketing", "scope": "理财产品推介",
        "channel": "voice_ivr",
    })  # fmt: skip
    speaking(page, lang)  # (a reload: the dashboard opened at sign-in shows the new entries)
    visit(page, live, "dashboard", "calls-now", "dashboard")
    now = page.get_by_test_id("calls-now").locator("b")
    before = int(now.inner_text())
    live.ctx.evidence.append_entry("call_started", call_id=f"tour-live-{lang}", payload={})
    expect(now).to_have_text(str(before + 1), timeout=20_000)  # read again while open
    visit(page, live, "dnc", "dnc-number", "dnc")
    page.get_by_test_id("dnc-number").fill("139 0000 1234")
    page.get_by_test_id("dnc-check").click()
    expect(page.get_by_test_id("dnc-result")).to_contain_text("139****1234")
    if lang == "zh-CN":
        expect(page.get_by_test_id("dnc-result")).to_contain_text("客户在通话中要求不再来电")
        assert english_words(page) == []
    shot(page, f"tour-dnc-checked-{lang}")
    page.goto(f"{live.url}/#/consents")
    page.get_by_test_id("consent-number").fill("139 0000 5678")
    page.get_by_test_id("consent-search").click()
    expect(page.get_by_test_id("consents")).to_contain_text("理财产品推介")
    if lang == "zh-CN":
        expect(page.get_by_test_id("consents")).to_contain_text("营销")
        assert english_words(page) == []
    shot(page, f"tour-consents-{lang}")
    visit(page, live, "recordings", "rec-number", "recordings")
    visit(page, live, "qa", "qa-row-tour-qa-1", "qa")
    visit(page, live, "rules", "rules-version", "rules")
    visit(page, live, "prompts", "prompt-disclosure", "prompts")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_supervisor_reads_the_floor_in_his_language(
    live: LiveConsole, page: Page, lang: str
) -> None:
    sign_in(page, live, "sam")
    speaking(page, lang)
    visit(page, live, "floor", "work-tickets", "floor")
    result = page.get_by_test_id("callback-result").first
    if lang == "zh-CN":
        expect(result).to_have_text("合规闸门拒绝（号码在免打扰名单中）")
    else:
        expect(result).to_have_text("denied by the gate (number is on the do-not-call list)")
    visit(page, live, "dashboard", "floor-figures", "dashboard-floor")


@pytest.mark.parametrize("lang", ["zh-CN", "en"])
def test_a_designer_simulates_a_call_and_a_change_waits_in_her_language(
    live: LiveConsole, page: Page, lang: str
) -> None:
    sign_in(page, live, "dora")
    name = f"tour_{lang.replace('-', '_').lower()}"
    flow = promo_flow(pitch_first=False) | {"flow": name}
    call_api(page, live, "PUT", f"/flows/{name}/draft", {"flow": flow, "base_revision": 0})
    speaking(page, lang)
    page.goto(f"{live.url}/#/flows/{name}")
    expect(page.get_by_test_id("check-status")).to_be_visible()
    page.get_by_test_id("tab-sim").click()
    page.get_by_test_id("sim-keys").fill("1")
    page.get_by_test_id("sim-add-keys").click()
    page.get_by_test_id("sim-run").click()
    transcript = page.get_by_test_id("sim-transcript")
    if lang == "zh-CN":
        expect(transcript).to_contain_text("按键 1", timeout=60_000)
        expect(transcript).to_contain_text("客户已同意（营销）")
        expect(page.get_by_test_id("sim-evidence")).to_contain_text("已播放开场披露")
        # the graph and the node form show identifiers (node, prompt and edge names)
        assert english_words(page, SKIP + ", .inspector select, .palette small") == []
    else:
        expect(transcript).to_contain_text("DTMF 1", timeout=60_000)
        expect(transcript).to_contain_text("consent granted (Marketing)")
    shot(page, f"tour-designer-simulated-{lang}")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("banner")).to_be_visible()
    visit(page, live, "changes", f"open-{name}", "changes")
    if lang == "zh-CN":
        expect(page.get_by_test_id("touches").first).to_contain_text("授权")


def test_typed_times_are_the_institutions_whatever_the_browsers_zone(
    live: LiveConsole, browser: Browser
) -> None:
    """The recording started 10:00 in Shanghai (02:00 UTC); a browser in New York searching
    09:30-10:30, the times the page shows, finds it."""
    context = new_context(browser, zone="America/New_York")
    page = context.new_page()
    try:
        sign_in(page, live, "olga")
        page.goto(f"{live.url}/#/recordings")
        page.get_by_test_id("rec-from").fill("2026-11-30T09:30")
        page.get_by_test_id("rec-to").fill("2026-11-30T10:30")
        page.get_by_test_id("rec-search").click()
        expect(page.get_by_test_id("recordings")).to_contain_text("2026/11/30 10:00:00")
        expect(page.get_by_test_id("rec-number")).to_have_count(1)
        page.get_by_test_id("rec-to").fill("2026-11-30T09:59")
        page.get_by_test_id("rec-search").click()
        expect(page.get_by_test_id("rec-number")).to_have_count(0)
    finally:
        context.close()


def test_recordings_past_the_first_page_are_reached_page_by_page(
    live: LiveConsole, page: Page
) -> None:
    """The search answers a page at a time (no total over a million rows): the page offers the
    next one while there is more."""
    for n in range(51):
        seed_recording(
            live.ctx,
            f"paged-{n}",
            campaign="autumn",
            started=datetime(2026, 11, 29, 1, 0, tzinfo=UTC) + timedelta(minutes=n),
        )
    sign_in(page, live, "olga")
    page.goto(f"{live.url}/#/recordings")
    page.get_by_test_id("rec-campaign").fill("autumn")
    page.get_by_test_id("rec-search").click()
    expect(page.get_by_test_id("rec-number")).to_have_count(50)
    pages = page.get_by_test_id("rec-pages")
    pages.get_by_role("button", name="下一页").click()
    expect(page.get_by_test_id("rec-number")).to_have_count(1)
    expect(pages.get_by_role("button", name="下一页")).to_be_disabled()
    pages.get_by_role("button", name="上一页").click()
    expect(page.get_by_test_id("rec-number")).to_have_count(50)
