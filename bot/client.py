"""Async client for the Rasa server's REST channel and HTTP API (the app side of the bot).

Every call has a deadline (default 1.5 s, ``IVR_RASA_TIMEOUT_S``): when Rasa is down or slower,
:class:`ivr.errors.DependencyUnavailableError` is raised so the orchestrator can fall back to a
DTMF menu or a human instead of leaving the caller in silence. A failed connection is retried
once (the message never reached Rasa); a timeout is not (the turn may have been processed).
HTTP is aiohttp with kept-alive connections (~0.1 ms of CPU per turn; httpx measured ~0.8 ms);
idle connections are dropped after ``KEEPALIVE_S``, before Rasa's server (Sanic: 5 s) would.

With several Rasa servers (``IVR_RASA_PROCESSES``), every request about a conversation goes to
the same server, chosen by :func:`shard_for` from the sender id (the call id): a server's
in-memory tracker then holds the whole conversation. A server that is down is not replaced by
another mid-call (the other has no tracker of the call): the caller gets the orchestrator's
fallback, as with a single server.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bot.directives import Directive, parse_bot_messages
from ivr.errors import DependencyUnavailableError, RemoteProtocolError


@dataclass(frozen=True, slots=True)
class CallMetadata:
    """Call facts that travel with every message to Rasa (slots are filled from them).

    Never the customer's number: Rasa's tracker store keeps metadata and slots with the
    transcript. The customer is a ``caller_handle`` (:mod:`bot.caller_handles`) the actions
    resolve through the app's database.
    """

    call_id: str
    institution: str
    bot_id: str
    purpose: str = "service"
    campaign: str | None = None
    caller_handle: str | None = None
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
        if self.caller_handle is not None:
            data["caller_handle"] = self.caller_handle
        data.update(self.extra)
        return data


KEEPALIVE_S = 2.0


def shard_for(sender_id: str, shards: int) -> int:
    """The index of the Rasa server that holds ``sender_id``'s conversation (stable everywhere:
    CRC-32, not Python's per-process salted ``hash``)."""
    return zlib.crc32(sender_id.encode("utf-8")) % shards


class RasaClient:
    """One shared HTTP connection pool per Rasa server; conversations pinned by sender id."""

    def __init__(
        self,
        base_url: str | Sequence[str],
        *,
        timeout_s: float = 1.5,
        connect_retries: int = 1,
    ) -> None:
        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        if not urls:
            raise ValueError("RasaClient needs at least one Rasa URL")
        self._base_urls = [url.rstrip("/") for url in urls]
        self._timeout_s = timeout_s
        self._connect_retries = connect_retries
        # created on first use, inside the running event loop (aiohttp's requirement)
        self._sessions: list[aiohttp.ClientSession | None] = [None] * len(self._base_urls)

    async def __aenter__(self) -> RasaClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for i, session in enumerate(self._sessions):
            if session is not None:
                await session.close()
            self._sessions[i] = None

    def _session(self, shard: int) -> aiohttp.ClientSession:
        session = self._sessions[shard]
        if session is None or session.closed:
            session = self._sessions[shard] = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self._timeout_s),
                connector=aiohttp.TCPConnector(keepalive_timeout=KEEPALIVE_S, limit=0),
            )
        return session

    async def send(
        self, sender_id: str, text: str, metadata: CallMetadata | None = None
    ) -> list[Directive]:
        """Send one caller turn; return the bot's directives in order."""
        body: dict[str, Any] = {"sender": sender_id, "message": text}
        if metadata is not None:
            body["metadata"] = metadata.as_dict()
        reply = await self._request("POST", "/webhooks/rest/webhook", sender_id, json_body=body)
        if not isinstance(reply, list):
            raise RemoteProtocolError("Rasa REST reply is not a list")
        return parse_bot_messages(reply)

    async def tracker(self, sender_id: str) -> dict[str, Any]:
        """The conversation tracker (needs Rasa started with ``--enable-api``)."""
        reply = await self._request("GET", f"/conversations/{sender_id}/tracker", sender_id)
        if not isinstance(reply, dict):
            raise RemoteProtocolError("Rasa tracker reply is not an object")
        return reply

    async def status(self, shard: int = 0) -> dict[str, Any]:
        """One server's status, including the loaded model file."""
        reply = await self._request("GET", "/status", shard=shard)
        if not isinstance(reply, dict):
            raise RemoteProtocolError("Rasa status reply is not an object")
        return reply

    @property
    def shards(self) -> int:
        return len(self._base_urls)

    async def _request(
        self,
        method: str,
        path: str,
        sender_id: str | None = None,
        *,
        shard: int = 0,
        json_body: Any = None,
    ) -> Any:
        if sender_id is not None:
            shard = shard_for(sender_id, len(self._base_urls))
        url = self._base_urls[shard] + path
        attempts = self._connect_retries + 1
        for attempt in range(attempts):
            try:
                async with self._session(shard).request(method, url, json=json_body) as response:
                    status = response.status
                    raw = await response.read()
            except aiohttp.ClientConnectorError as exc:
                if attempt + 1 < attempts:
                    continue
                raise DependencyUnavailableError(
                    f"Rasa at {self._base_urls[shard]} refused"
                ) from exc
            except TimeoutError as exc:  # aiohttp's timeouts are asyncio.TimeoutError
                raise DependencyUnavailableError(
                    f"Rasa did not answer within {self._timeout_s} s"
                ) from exc
            except aiohttp.ClientError as exc:
                raise DependencyUnavailableError(
                    f"Rasa request failed: {type(exc).__name__}"
                ) from exc
            if status >= 500:
                raise DependencyUnavailableError(f"Rasa answered HTTP {status}")
            if status >= 400:
                raise RemoteProtocolError(f"Rasa rejected the request: HTTP {status}")
            try:
                return json.loads(raw)
            except ValueError as exc:
                raise RemoteProtocolError("Rasa sent invalid JSON") from exc
        raise AssertionError("unreachable")
