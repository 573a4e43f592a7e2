"""Helpers of the console's browser tests: Debian's Chromium (/usr/bin/chromium, never a
downloaded browser) driven by Playwright, against the console served by uvicorn as ``make run``
starts it; screenshots go to tests/console/artifacts/."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from console_support import PASSWORD, console_settings
from playwright.sync_api import Browser, Page, expect, sync_playwright

from console.context import ConsoleContext, build_context
from console.permissions import Role
from shell.services import ManagedProcess, console_spec, free_port

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).parent / "artifacts"


@dataclasses.dataclass
class LiveConsole:
    url: str
    env: dict[str, str]
    ctx: ConsoleContext


@contextlib.contextmanager
def live_console(
    data: Path, users: dict[str, Role], **settings_extra: object
) -> Iterator[LiveConsole]:
    """A console process over its own database, flows and rules (``settings_extra`` as
    settings, passed to the server as ``IVR_*``), with ``users`` signed up."""
    settings = console_settings(data, **settings_extra)
    ctx = build_context(settings)
    for name, role in users.items():
        ctx.auth.add_user(None, name, role, PASSWORD)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env |= {
        "IVR_DATA_DIR": str(settings.data_dir),
        "IVR_DATABASE_URL": str(settings.database_url),
        "IVR_FLOWS_DIR": str(settings.flows_dir),
        "IVR_RULES_PATH": str(settings.rules_path),
        "IVR_CONSOLE_ADMIN_PASSWORD": PASSWORD,
    }
    env |= {f"IVR_{k.upper()}": str(v) for k, v in settings_extra.items()}
    port = free_port()
    spec = dataclasses.replace(console_spec("127.0.0.1", port), env=env)
    server = ManagedProcess(spec, data / "log")
    try:
        server.wait_ready()
        yield LiveConsole(f"http://127.0.0.1:{port}", env, ctx)
    finally:
        server.stop()


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@contextlib.contextmanager
def new_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1440, "height": 960}, locale="zh-CN")
    yield context.new_page()
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def sign_in(page: Page, live: LiveConsole, user: str) -> None:
    page.goto(live.url + "/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    # argon2 verification is deliberately slow; on a loaded host it takes seconds
    expect(page.get_by_test_id("who")).to_contain_text(user, timeout=30_000)


def wait_for(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
