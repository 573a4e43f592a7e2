"""Floor fixtures: the simulated switch with the shipped mod_callcenter (started per test)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from agents_support import Floor, start_floor, stop_floor


@pytest.fixture
async def floor() -> AsyncIterator[Floor]:
    state = await start_floor()
    try:
        yield state
    finally:
        await stop_floor(state)
