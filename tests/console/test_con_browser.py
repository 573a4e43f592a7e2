"""The console in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright,
against the console served by uvicorn as ``make run`` starts it.

Draw a flow whose pitch comes before consent → the designer marks the path → fix it → publish
→ approve as a second user → ``ivr call`` runs the new version; search a recording and play
it; an agent is refused the recordings page. Screenshots go to tests/console/artifacts/.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import (
    CHROMIUM,
    LiveConsole,
    chromium,
    live_console,
    new_page,
    shot,
    sign_in,
)
from console_support import seed_recording
from helpers.wait import wait_until
from playwright.sync_api import Browser, Page, expect

from console.audit import AuditKind
from console.permissions import Role

IVR = Path(sys.executable).parent / "ivr"

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium not installed")
USERS = {
    "dora": Role.DESIGNER,
    "olga": Role.COMPLIANCE_OFFICER,
    "sam": Role.SUPERVISOR,
    "alan": Role.AGENT,
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveConsole]:
    with live_console(tmp_path_factory.mktemp("console-live"), USERS) as console:
        yield console


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as b:
        yield b


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with new_page(browser) as p:
        yield p


def select_node(page: Page, node: str) -> None:
    page.get_by_test_id(f"node-{node}").click()
    expect(page.get_by_test_id("node-form")).to_contain_text(node)


def set_field(page: Page, node: str, field: str, value: str) -> None:
    select_node(page, node)
    page.get_by_test_id("node-form").get_by_test_id(f"field-{field}").select_option(value)


def drag_edge(page: Page, source: str, handle: str, target: str) -> None:
    """Draw an edge on the canvas: from a node's output handle onto another node's input."""
    start = page.locator(f"[data-testid=node-{source}] .react-flow__handle[data-handleid={handle}]")
    end = page.locator(f"[data-testid=node-{target}] .react-flow__handle[data-handleid=in]")
    a, b = start.bounding_box(), end.bounding_box()
    assert a is not None and b is not None
    page.mouse.move(a["x"] + a["width"] / 2, a["y"] + a["height"] / 2)
    page.mouse.down()
    page.mouse.move(b["x"] + b["width"] / 2, b["y"] + b["height"] / 2, steps=12)
    page.mouse.up()


def test_draw_check_fix_publish_approve_then_ivr_call_runs_it(
    live: LiveConsole, page: Page, rasa_stack: object
) -> None:
    sign_in(page, live, "dora")
    page.goto(live.url + "/#/flows")
    page.get_by_test_id("new-flow-name").fill("wealth_promo")
    page.get_by_test_id("new-flow").click()
    expect(page.get_by_test_id("node-disclosure")).to_be_attached()

    page.get_by_test_id("palette-play").click()  # play_1: the pitch
    form = page.get_by_test_id("node-form")
    form.get_by_test_id("field-prompt").select_option("pitch")
    form.get_by_test_id("field-marketing").check()
    page.get_by_test_id("palette-consent_gate").click()  # consent_gate_1
    page.get_by_test_id("palette-play").click()  # play_2: the risk warning
    page.get_by_test_id("node-form").get_by_test_id("field-prompt").select_option("risk_warning")
    page.get_by_test_id("node-form").get_by_test_id("field-next").select_option("goodbye")

    # the pitch before consent: disclosure -> pitch (drawn on the canvas) -> consent -> ...
    drag_edge(page, "disclosure", "next", "play_1")
    set_field(page, "play_1", "next", "consent_gate_1")
    set_field(page, "consent_gate_1", "on_granted", "play_2")
    set_field(page, "consent_gate_1", "on_refused", "goodbye")
    set_field(page, "consent_gate_1", "on_no_answer", "goodbye")

    issue = page.get_by_test_id("issue-marketing_without_consent")
    expect(issue).to_be_visible()
    # the validator's issue in the console's language (message code issue.* with its params)
    expect(issue.get_by_test_id("issue-text")).to_have_text(
        "节点 play_1 在未获得客户授权的路径上播放营销内容"
    )
    expect(issue.get_by_test_id("offending-path")).to_contain_text("disclosure → play_1")
    expect(page.get_by_test_id("node-play_1")).to_have_class(
        __import__("re").compile(r"\bonpath\b")
    )
    page.get_by_test_id("node-disclosure").click()
    # the property form speaks Chinese too: field labels and the node type's description
    expect(page.get_by_test_id("node-form")).to_contain_text("下一步")
    expect(page.get_by_test_id("node-description")).to_contain_text("必需的开场披露")
    shot(page, "1-designer-pitch-before-consent")

    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("banner")).to_contain_text("已保存")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("banner")).to_have_text("422: 文档未通过校验")

    # fix it: disclosure -> consent -> (granted) pitch -> risk warning -> goodbye
    set_field(page, "disclosure", "next", "consent_gate_1")
    set_field(page, "consent_gate_1", "on_granted", "play_1")
    set_field(page, "play_1", "next", "play_2")
    expect(page.get_by_test_id("check-status")).to_have_text("校验通过")
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_test_id("banner")).to_contain_text("已保存")
    shot(page, "2-designer-fixed")
    page.get_by_test_id("publish").click()
    expect(page.get_by_test_id("banner")).to_contain_text("等待合规专员审批")
    assert not (Path(live.env["IVR_FLOWS_DIR"]) / "wealth_promo.yaml").exists()

    page.get_by_role("button", name="退出").click()
    expect(page.locator("input[name=username]")).to_be_visible()  # signed out
    sign_in(page, live, "olga")
    page.goto(live.url + "/#/changes")
    page.get_by_test_id("open-wealth_promo").click()
    expect(page.locator("pre.diff")).to_contain_text("consent_gate_1")
    shot(page, "3-approval-diff")
    page.get_by_test_id("approve").click()
    expect(page.get_by_test_id("banner")).to_contain_text("wealth_promo")
    page.goto(live.url + "/#/dashboard")
    expect(page.get_by_test_id("calls-now")).to_be_visible()
    shot(page, "7-dashboard")
    approvals = [
        e.payload for e in live.ctx.evidence.entries() if e.kind == AuditKind.CHANGE_APPROVED
    ]
    assert approvals[-1]["actor"] == "olga" and approvals[-1]["author"] == "dora"

    env = live.env | {"IVR_RASA_URL": rasa_stack.rasa_url, "IVR_RASA_PROCESSES": "1"}  # type: ignore[attr-defined]
    done = subprocess.run(
        [
            str(IVR),
            "call",
            "--flow",
            "wealth_promo",
            "--caller",
            "13912345678",
            "--dtmf",
            "1",
            "--at",
            "2026-12-01T10:00:00+08:00",
            "--json",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    call = json.loads(done.stdout)
    spoken = [line["detail"].split(" ")[0] for line in call["transcript"] if line["who"] == "ivr"]
    assert spoken[:2] == ["disclosure", "consent_question"]
    assert "pitch" in spoken and spoken.index("pitch") < spoken.index("risk_warning")


def test_search_a_recording_and_play_it(live: LiveConsole, page: Page) -> None:
    rid = seed_recording(live.ctx, "browser-call-1")
    sign_in(page, live, "sam")
    page.goto(live.url + "/#/recordings")
    page.get_by_test_id("rec-customer").fill("138 1234 5678")
    page.get_by_test_id("rec-search").click()
    expect(page.get_by_test_id("rec-number").first).to_have_text("138****5678")
    page.get_by_test_id("rec-reason").fill("客户投诉复核")
    page.get_by_test_id("play-browser-call-1").click()
    player = page.get_by_test_id("player")
    expect(player).to_be_attached()
    wait_until(lambda: any(a["allowed"] for a in live.ctx.vault.access_log(rid)))
    # the browser decoded the streamed audio (one second long)
    wait_until(lambda: (player.evaluate("a => a.duration") or 0) > 0.9)
    access = live.ctx.vault.access_log(rid)[-1]
    assert access["actor_id"] == "sam" and access["reason"] == "客户投诉复核"
    shot(page, "4-recordings-play")


def test_an_agent_is_refused_the_recordings_page(live: LiveConsole, page: Page) -> None:
    sign_in(page, live, "alan")
    expect(page.locator("nav.sidenav")).not_to_contain_text("录音检索")
    page.goto(live.url + "/#/recordings")
    expect(page.get_by_test_id("forbidden")).to_be_visible()
    shot(page, "5-agent-refused-recordings")
    page.goto(live.url + "/#/dnc")
    page.get_by_test_id("dnc-number").fill("139 0000 1234")
    page.get_by_role("button", name="加入免打扰").click()
    expect(page.get_by_test_id("dnc-result")).to_contain_text("139****1234")
    shot(page, "6-agent-adds-dnc")
    wait_until(
        lambda: any(
            e.kind == AuditKind.ACCESS_DENIED and e.payload["actor"] == "alan"
            for e in live.ctx.evidence.entries()
        )
    )
