"""Voice directives round-trip between the action payload builders and the REST reply parser."""

from __future__ import annotations

from typing import Any

import pytest

from bot.directives import (
    Hangup,
    Say,
    Transfer,
    hangup_payload,
    parse_bot_messages,
    say_payload,
    transfer_payload,
)
from ivr.errors import RemoteProtocolError


def test_payloads_parse_back_to_directives() -> None:
    reply: list[dict[str, Any]] = [
        {"recipient_id": "c", "custom": say_payload("您好", barge_in=False, kind="disclosure")},
        {"recipient_id": "c", "text": "请问有什么可以帮您？"},
        {"recipient_id": "c", "custom": transfer_payload("senior", priority=9, reason="complaint")},
        {"recipient_id": "c", "custom": hangup_payload("NORMAL_CLEARING")},
    ]
    assert parse_bot_messages(reply) == [
        Say("您好", barge_in=False, kind="disclosure"),
        Say("请问有什么可以帮您？", barge_in=True, kind="reply"),
        Transfer("senior", 9, "complaint"),
        Hangup("NORMAL_CLEARING"),
    ]


@pytest.mark.parametrize(
    "custom",
    [
        {"directive": "teleport"},
        {"directive": "transfer", "queue": "senior"},
        {"directive": "transfer", "queue": "senior", "priority": "high", "reason": "x"},
        ["not", "an", "object"],
    ],
)
def test_malformed_custom_payload_is_remote_protocol_error(custom: object) -> None:
    with pytest.raises(RemoteProtocolError):
        parse_bot_messages([{"custom": custom}])
