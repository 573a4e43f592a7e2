"""The regulated wording the bot shares with the IVR flows: the mandatory opening disclosure
(invariant 4: institution, bot ID, recording notice) and the mandatory risk warning.

Both are entries of the shared prompt table as published (``<IVR_FLOWS_DIR>/prompts.yaml``:
``disclosure`` and ``risk_warning``), so the IVR flows and the bot say the same filed words, and
a wording change published in the console reaches the bot: the table is read again whenever the
file changed (a table that became invalid leaves the last valid one in use, logged). The
institution and bot ID come from call metadata and are never hard-coded.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from flows.interpreter import render
from flows.registry import PROMPTS_FILE, load_prompt_table
from ivr.errors import ConfigError, RemoteProtocolError
from ivr.settings import get_settings

log = logging.getLogger(__name__)


class SharedPrompts:
    """The published prompt table of one flows folder, re-read when the file changes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._table: dict[str, str] | None = None

    def text(self, prompt_id: str) -> str:
        table = self._current()
        if prompt_id not in table:
            raise ConfigError(f"the prompt table {self.path} has no {prompt_id} text")
        return table[prompt_id]

    def _current(self) -> dict[str, str]:
        try:
            st = self.path.stat()
            stamp: tuple[int, int, int] | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self._table is not None and stamp == self._stamp:
            return self._table
        prompts, issues = load_prompt_table(self.path)
        if issues:
            if self._table is not None:  # keep speaking the last valid filed words
                log.error("prompt table %s invalid, previous one stays: %s", self.path, issues)
                return self._table
            raise ConfigError(f"the prompt table {self.path} is invalid: {issues}")
        self._table = {k: p.text for k, p in prompts.items() if p.text is not None}
        self._stamp = stamp
        return self._table


@lru_cache(maxsize=4)
def shared_prompts(flows_dir: Path) -> SharedPrompts:
    return SharedPrompts(flows_dir / PROMPTS_FILE)


def _shared_text(prompt_id: str) -> str:
    return shared_prompts(get_settings().flows_dir).text(prompt_id)


def disclosure_text(institution: str, bot_id: str) -> str:
    """The disclosure sentence spoken before anything else in every bot call."""
    return render(_shared_text("disclosure"), {"institution": institution, "bot_id": bot_id})


def risk_warning_text() -> str:
    """The mandatory risk warning, spoken without barge-in after any product content."""
    return _shared_text("risk_warning")


def call_facts(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """The call facts the bot needs from message metadata; institution and bot ID required."""
    metadata = metadata or {}
    missing = [key for key in ("institution", "bot_id") if not metadata.get(key)]
    if missing:
        raise RemoteProtocolError(f"call metadata lacks {', '.join(missing)}")
    keys = ("call_id", "institution", "bot_id", "purpose", "campaign", "caller_handle", "product")
    return {key: str(metadata[key]) for key in keys if metadata.get(key) is not None}
