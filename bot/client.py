"""Async client for the Rasa server's REST channel and HTTP API (the app side of the bot).

Every call has a deadline (default 1.5 s, ``IVR_RASA_TIMEOUT_S``): when Rasa is down or slower,
:class:`ivr.errors.DependencyUnavailableError` is raised so the orchestrator can fall back to a
DTMF menu or a human instead of leaving the caller in silence. A failed connection is retried
once (the message never reached Rasa); a timeout is not (the turn may have been processed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.directives import Directive, parse_bot_messages
from ivr.errors import DependencyUnavailableError, RemoteProtocolError


@dataclass(frozen=True, slots=True)
class CallMetadata:
    """Call facts that travel with every message to Rasa (slots are filled from them)."""

    call_id: str
    institution: str
    bot_id: str
    purpose: str = "service"
    campaign: str | None = None
    caller: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "call_id": self.call_id,
            "institution": self.institution,
            "bot_id": self.bot_id,
            "purpose": self.purpose,
        }
        if self.campaign is not None:
            data["campaign"] = self.campaign
        if self.caller is not None:
            data["caller"] = self.caller
        data.update(self.extra)
        return data


class RasaClient:
    """One shared HTTP connection pool to a Rasa server."""

    def __init__(self, base_url: str, *, timeout_s: float = 1.5, connect_retries: int = 1) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._connect_retries = connect_retries
        self._http = httpx.AsyncClient(base_url=self._base_url, timeout=timeout_s)

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]:
        """Send one caller turn; return the bot's directives in order."""
        body: dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata is not None:
            body["metadata"] = metadata.as_dict()
        reply = await self._request("POST", "/webhooks/rest/webhook", json=body)
        if not isinstance(reply, list):
            raise RemoteProtocolError("Rasa REST reply is not a list")
        return parse_bot_messages(reply)

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation tracker (needs Rasa started with ``--enable-api``)."""
        reply = await self._request("GET", f"/conversations/{sender_id}/tracker")
        if not isinstance(reply, dict):
            raise RemoteProtocolError("Rasa tracker reply is not an object")
        return reply

    async def status(self) -> dict[str, Any]:
        """Server status, including the loaded model file."""
        reply = await self._request("GET", "/status")
        if not isinstance(reply, dict):
            raise RemoteProtocolError("Rasa status reply is not an object")
        return reply

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        attempts = self._connect_retries + 1
        for attempt in range(attempts):
            try:
                response = await self._http.request(method, path, **kwargs)
            except httpx.ConnectError as exc:
                if attempt + 1 < attempts:
                    continue
                raise DependencyUnavailableError(f"Rasa at {self._base_url} refused") from exc
            except httpx.TimeoutException as exc:
                raise DependencyUnavailableError(
                    f"Rasa did not answer within {self._timeout_s} s"
                ) from exc
            except httpx.HTTPError as exc:
                raise DependencyUnavailableError(f"Rasa request failed: {exc}") from exc
            if response.status_code >= 500:
                raise DependencyUnavailableError(f"Rasa answered HTTP {response.status_code}")
            if response.status_code >= 400:
                raise RemoteProtocolError(f"Rasa rejected the request: HTTP {response.status_code}")
            try:
                return response.json()
            except ValueError as exc:
                raise RemoteProtocolError("Rasa sent invalid JSON") from exc
        raise AssertionError("unreachable")
