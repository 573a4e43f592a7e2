"""The agent page in a real browser (issue 18): an agent signs in to their desk (mod_callcenter
is told, over inbound ESL to a simulated FreeSWITCH), the call on their line pops with why it
came, the flags, the conversation and the masked number; an agent cannot unmask it, a
supervisor can (audited)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from console_support import CLEAR_NUMBER, PASSWORD, console_settings
from floor_switch import ThreadedSwitch
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console.context import ConsoleContext, build_context
from console.permissions import Role
from flows.ports import Handoff
from ivr.evidence import EvidenceKind
from ivr.phone import customer_number
from shell.services import ManagedProcess, console_spec, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
AGENT, SUPERVISOR_DESK = "general-1101@default", "senior-1001@default"
AT = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")


@dataclasses.dataclass
class LiveConsole:
    url: str
    ctx: ConsoleContext


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, floor_switch: ThreadedSwitch
) -> Iterator[LiveConsole]:
    data = tmp_path_factory.mktemp("console-agent-page")
    settings = console_settings(data, freeswitch_inbound=floor_switch.address)
    ctx = build_context(settings)
    ctx.auth.add_user(None, "alan", Role.AGENT, PASSWORD)
    ctx.auth.add_user(None, "sam", Role.SUPERVISOR, PASSWORD)
    ctx.floor.desk.bind(AGENT, "alan", "general")
    ctx.floor.desk.bind(SUPERVISOR_DESK, "sam", "senior")
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env |= {
        "IVR_DATA_DIR": str(settings.data_dir),
        "IVR_DATABASE_URL": str(settings.database_url),
        "IVR_FLOWS_DIR": str(settings.flows_dir),
        "IVR_RULES_PATH": str(settings.rules_path),
        "IVR_CONSOLE_ADMIN_PASSWORD": PASSWORD,
        "IVR_FREESWITCH_INBOUND": floor_switch.address,
    }
    port = free_port()
    spec = dataclasses.replace(console_spec("127.0.0.1", port), env=env)
    server = ManagedProcess(spec, data / "log")
    try:
        server.wait_ready()
        yield LiveConsole(f"http://127.0.0.1:{port}", ctx)
    finally:
        server.stop()


@pytest.fixture
def page() -> Iterator[Page]:
    with sync_playwright() as pw:
        browser: Browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="zh-CN")
        yield context.new_page()
        browser.close()


def sign_in(page: Page, live: LiveConsole, user: str) -> None:
    page.goto(live.url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.get_by_test_id("who")).to_contain_text(user)


def pop_for(live: LiveConsole, agent: str, call_id: str) -> None:
    """A complaint handed off by the orchestrator and bridged to ``agent`` by the switch."""
    live.ctx.floor.pops.store(
        Handoff(
            call_id,
            "senior",
            9,
            "complaint_or_high_risk",
            "complaint",
            customer_number(CLEAR_NUMBER),
            "granted",
            (("bot", "您好"), ("caller", "我要投诉")),
            "inbound_service",
            ("menu", "senior"),
            AT,
        )
    )
    live.ctx.floor.pops.assign(agent, call_id)


def test_agent_signs_in_and_sees_the_screen_pop_masked(
    live: LiveConsole, page: Page, floor_switch: ThreadedSwitch
) -> None:
    pop_for(live, AGENT, "call-page-1")
    sign_in(page, live, "alan")
    page.goto(live.url + "/#/agent")
    page.get_by_test_id("desk-login").click()
    expect(page.get_by_test_id("desk-status")).to_have_text("小休")
    assert floor_switch.center.agents[AGENT].status == "On Break"  # mod_callcenter was told
    page.get_by_test_id("desk-ready").click()
    expect(page.get_by_test_id("desk-status")).to_have_text("就绪")
    assert floor_switch.center.agents[AGENT].status == "Available"
    pop = page.get_by_test_id("screen-pop")
    # why it came, its queue and the consent named in Chinese (the API sends identifiers)
    expect(pop).to_contain_text("来电弹屏: 高级坐席")
    expect(page.get_by_test_id("pop-why")).to_contain_text("来电原因: 投诉")
    expect(pop).to_contain_text("授权: 已同意")
    expect(pop).to_contain_text("我要投诉")
    expect(page.get_by_test_id("pop-number")).to_have_text("138****5678")
    expect(pop.get_by_role("button", name="查看完整号码")).to_have_count(0)  # agents may not


def test_supervisor_unmasks_with_a_reason_and_it_is_evidence(live: LiveConsole, page: Page) -> None:
    pop_for(live, SUPERVISOR_DESK, "call-page-2")
    sign_in(page, live, "sam")
    page.goto(live.url + "/#/agent")
    pop = page.get_by_test_id("screen-pop")
    expect(pop).to_contain_text("我要投诉")
    pop.get_by_placeholder("原因").fill("客户要求核实号码")
    pop.get_by_role("button", name="查看完整号码").click()
    expect(page.get_by_test_id("pop-number")).to_have_text("+86" + CLEAR_NUMBER)
    revealed = [
        e.payload
        for e in live.ctx.evidence.entries(call_id="call-page-2")
        if e.kind == EvidenceKind.NUMBER_REVEALED
    ]
    assert revealed and revealed[-1]["actor"] == "sam" and revealed[-1]["allowed"] is True
