"""Fixtures of the flow tests: the call stack on private stores, the shared prompt cache."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from flow_support import FlowStack, stack_settings

from flows.adapters import SidecarListener
from flows.app import build_deps
from flows.registry import DEFAULT_FLOWS_DIR, FlowRegistry

DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai


@pytest.fixture(scope="session")
def prompt_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("prompt-cache")


@pytest.fixture
async def flow_stack(
    rasa_stack, tmp_path: Path, prompt_cache_dir: Path, request: pytest.FixtureRequest
) -> AsyncIterator[FlowStack]:
    """The shipped flows (a private copy) on private stores at 11:00 Shanghai time."""
    import shutil

    params = getattr(request, "param", {})
    flows_dir = tmp_path / "flows"
    shutil.copytree(DEFAULT_FLOWS_DIR, flows_dir)
    settings = stack_settings(
        tmp_path, params.get("rasa_url", rasa_stack.rasa_url), prompt_cache_dir
    )
    built = await build_deps(
        settings, listener=SidecarListener(None), registry=FlowRegistry(flows_dir)
    )
    stack = FlowStack(built, settings, flows_dir, tmp_path / "fs-recordings")
    stack.use(clock=lambda: DAYTIME)
    yield stack
    await built.aclose()
