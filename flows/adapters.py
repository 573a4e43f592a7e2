"""Adapters behind the orchestrator's ports: speech cache, ASR, Rasa NLU, webhooks, the vault.

The only IO of the flows package besides :mod:`flows.registry`; library errors are translated
into :class:`ivr.errors.DependencyUnavailableError` here.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from campaigns.callbacks import CallbackTicket, CallbackTickets, TicketOutcome
from compliance.consent_policy import NluResult
from flows.call import CallFacts
from ivr.errors import DependencyUnavailableError
from ivr.metrics import ASR_LATENCY, BOT_LATENCY
from ivr.phone import customer_number
from records.vault import RecordingMeta, Vault
from speech.audio import read_wav, write_wav
from speech.cache import PromptCache
from speech.ports import ASR, Transcript

log = logging.getLogger(__name__)
SIDECAR_SUFFIX = ".transcript.txt"


class CachedPrompts:
    """Prompt text → WAV via the on-disk prompt cache; sensitive text goes to the call's scratch."""

    def __init__(self, cache: PromptCache) -> None:
        self.cache = cache

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path:
        audio = await self.cache.get(text, sensitive=sensitive)
        if not sensitive:
            path = self.cache.path_for(text)
            if path.exists():
                return path
        path = scratch / f"say-{hashlib.sha256(text.encode()).hexdigest()[:16]}.wav"
        if not path.exists():
            write_wav(path, audio)
        return path


class AsrListener:
    """A recorded turn → text with the configured ASR engine (gated by VAD inside the engine)."""

    def __init__(self, asr: ASR) -> None:
        self.asr = asr

    async def transcribe(self, wav: Path) -> Transcript:
        with ASR_LATENCY.time():
            return await self.asr.transcribe(read_wav(wav))


class SidecarListener:
    """For simulated calls: a transcript written next to the recording by the simulator (text
    turns of ``ivr call --say``) is used as is; audio without one goes to the real ASR."""

    def __init__(self, inner: AsrListener | None) -> None:
        self.inner = inner

    async def transcribe(self, wav: Path) -> Transcript:
        sidecar = wav.with_name(wav.name + SIDECAR_SUFFIX)
        if sidecar.exists():
            text = sidecar.read_text(encoding="utf-8")
            sidecar.unlink(missing_ok=True)  # what the caller said: not kept past its turn
            return Transcript(text=text, confidence=1.0, engine="sidecar")
        if self.inner is None:
            return Transcript(text="")
        return await self.inner.transcribe(wav)


class RasaIntentParser:
    """NLU only (``/model/parse`` of the Rasa server): intent, confidence and entities, as
    they are (thresholds are the consent policy's, in the rules file)."""

    def __init__(self, base_url: str, *, timeout_s: float = 1.5) -> None:
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def parse(self, text: str) -> NluResult:
        try:
            with BOT_LATENCY.labels(stage="nlu").time():
                response = await self._http.post("/model/parse", json={"text": text})
            data = response.json() if response.status_code == 200 else {}
        except (httpx.HTTPError, ValueError):
            data = {}
        if not isinstance(data, dict) or not data:
            log.warning("NLU unavailable; treating the utterance as unclassified")
            return NluResult(None, 0.0)
        intent = data.get("intent") or {}
        name = intent.get("name")
        try:
            confidence = float(intent.get("confidence") or 0.0)
        except (TypeError, ValueError):
            confidence = 0.0
        entities = tuple(
            (str(e["entity"]), str(e.get("value", "")))
            for e in data.get("entities") or []
            if isinstance(e, dict) and e.get("entity")
        )
        return NluResult(name if isinstance(name, str) else None, confidence, entities)

    async def aclose(self) -> None:
        await self._http.aclose()


class HttpWebhooks:
    """CRM / credit / anti-fraud calls over HTTP with a per-call timeout; JSON objects only."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._http = client or httpx.AsyncClient()

    async def call(
        self, method: str, url: str, body: Mapping[str, Any], timeout_s: float
    ) -> Mapping[str, Any]:
        try:
            if method == "GET":
                response = await self._http.get(url, params=dict(body), timeout=timeout_s)
            else:
                response = await self._http.post(url, json=dict(body), timeout=timeout_s)
        except httpx.TimeoutException as exc:
            raise DependencyUnavailableError(f"webhook timed out after {timeout_s} s") from exc
        except httpx.HTTPError as exc:
            raise DependencyUnavailableError(f"webhook failed: {type(exc).__name__}") from exc
        if response.status_code >= 400:
            raise DependencyUnavailableError(f"webhook answered HTTP {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise DependencyUnavailableError("webhook answered non-JSON") from exc
        if not isinstance(data, dict):
            raise DependencyUnavailableError("webhook answered a non-object")
        return data

    async def aclose(self) -> None:
        await self._http.aclose()


class VaultRecordings:
    """Seals a finished call's recording into the records vault (invariant 10)."""

    def __init__(self, vault: Vault, bot_id: str) -> None:
        self.vault = vault
        self.bot_id = bot_id

    async def store(self, wav: Path, call: CallFacts, ended_at: datetime) -> None:
        meta = RecordingMeta(
            call_id=call.call_id,
            business_type=call.purpose,
            direction=call.direction,
            started_at=call.started_at,
            ended_at=ended_at,
            customer_number=customer_number(call.customer_number),  # None: sealed, no index
            campaign=call.campaign,
            agent_id=self.bot_id,
            flow_version=f"{call.flow.name}@{call.flow.version}",
            consent_state=call.consent_state,
        )
        await self.vault.ingest(wav, meta)


class CallbackDesk:
    """The orchestrator's ticket desk over :class:`CallbackTickets`: the caller id becomes a
    ``CustomerNumber`` here; one that is not a usable number (withheld, an extension) opens no
    ticket and returns ``NoNumberToCallBack`` instead of failing the call."""

    def __init__(self, tickets: CallbackTickets) -> None:
        self.tickets = tickets

    async def open(
        self, *, call_id: str, number: str | None, queue: str, reason: str, now: datetime
    ) -> TicketOutcome:
        return await self.tickets.open(
            call_id=call_id, number=customer_number(number), queue=queue, reason=reason, now=now
        )

    def for_call(self, call_id: str) -> list[CallbackTicket]:
        return self.tickets.for_call(call_id)
