"""The mandatory opening disclosure (invariant 4): institution, bot ID, recording notice.

Pure text composition from call metadata; the institution and bot ID are never hard-coded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ivr.errors import RemoteProtocolError

RECORDING_NOTICE = "为保障您的权益，本次通话将被录音。"


def disclosure_text(institution: str, bot_id: str) -> str:
    """The disclosure sentence spoken before anything else in every bot call."""
    return f"您好，这里是{institution}智能客服，工号{bot_id}。{RECORDING_NOTICE}"


def call_facts(metadata: Mapping[str, Any] | None) -> dict[str, str]:
    """The call facts the bot needs from message metadata; institution and bot ID required."""
    metadata = metadata or {}
    missing = [key for key in ("institution", "bot_id") if not metadata.get(key)]
    if missing:
        raise RemoteProtocolError(f"call metadata lacks {', '.join(missing)}")
    keys = ("call_id", "institution", "bot_id", "purpose", "campaign", "caller")
    return {key: str(metadata[key]) for key in keys if metadata.get(key) is not None}
