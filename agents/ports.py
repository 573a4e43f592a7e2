"""Ports of the human floor (adapters in :mod:`agents.switch`, :mod:`agents.screenpop`,
:mod:`agents.webhooks`, :mod:`agents.callbacks`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


class CallCenterControl(Protocol):
    """mod_callcenter's ``callcenter_config`` API: the raw reply text (raises
    :class:`ivr.errors.DependencyUnavailableError` when the switch cannot be reached)."""

    async def callcenter_config(self, arg: str) -> str: ...

    async def api(self, command: str, arg: str) -> str:
        """Any other ``api`` command (``uuid_broadcast`` of a queue announcement)."""
        ...


class WebhookTransport(Protocol):
    """POST a signed body; the HTTP status (raises ``DependencyUnavailableError`` on a network
    failure)."""

    async def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> int: ...
