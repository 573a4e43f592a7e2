"""The regulated wording the bot shares with the IVR flows: the mandatory opening disclosure
(invariant 4: institution, bot ID, recording notice) and the mandatory risk warning.

Both are entries of the shared prompt table (``ivr_flows/prompts.yaml``: ``disclosure`` and
``risk_warning``), so the IVR flows and the bot say the same filed words; the institution and bot
ID come from call metadata and are never hard-coded.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from flows.interpreter import render
from flows.registry import DEFAULT_FLOWS_DIR, PROMPTS_FILE, load_prompt_table
from ivr.errors import ConfigError, RemoteProtocolError


@lru_cache(maxsize=4)
def _shared_text(prompt_id: str) -> str:
    prompts, issues = load_prompt_table(DEFAULT_FLOWS_DIR / PROMPTS_FILE)
    prompt = prompts.get(prompt_id)
    if issues or prompt is None or prompt.text is None:
        raise ConfigError(f"the prompt table has no valid {prompt_id} text: {issues}")
    return prompt.text


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
