"""What the vault takes and gives: a recording's metadata, its index row, a search, a fetch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ivr.errors import IvrError
from ivr.phone import CustomerNumber


class RecordingNotFoundError(IvrError):
    """No stored recording with that id (or the source file to ingest is missing)."""

    code = "records.not_found"


@dataclass(frozen=True, slots=True)
class RecordingMeta:
    """What the orchestrator knows about a finished call's recording.

    ``customer_number`` comes from :func:`ivr.phone.customer_number` at the edge; a call
    without a usable number (withheld, an extension, garbage) is sealed all the same, without a
    customer index, and found by call id, time, flow and business type.
    """

    call_id: str
    business_type: str
    direction: str  # "inbound" | "outbound"
    started_at: datetime
    ended_at: datetime
    customer_number: CustomerNumber | None = None  # None: withheld, extension, not a number
    campaign: str | None = None
    agent_id: str | None = None  # bot or human agent id
    flow_version: str | None = None
    consent_state: str | None = None
    qa_flags: Sequence[str] = ()
    media_type: str = "audio/wav"
    disposition: str | None = None  # how the call ended (completed, refused, transferred, ...)


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """An index row as shown to a reader: the number masked unless revealed."""

    recording_id: str
    call_id: str
    customer: str | None
    customer_bi: str | None
    campaign: str | None
    business_type: str
    direction: str
    started_at: datetime
    ended_at: datetime
    duration_ms: int
    agent_id: str | None
    flow_version: str | None
    consent_state: str | None
    qa_flags: tuple[str, ...]
    retain_until: datetime
    size_bytes: int | None
    media_type: str
    key_id: str
    disposition: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "recording_id": self.recording_id,
            "call_id": self.call_id,
            "customer": self.customer,
            "customer_bi": self.customer_bi,
            "campaign": self.campaign,
            "business_type": self.business_type,
            "direction": self.direction,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "duration_ms": self.duration_ms,
            "agent_id": self.agent_id,
            "flow_version": self.flow_version,
            "consent_state": self.consent_state,
            "qa_flags": list(self.qa_flags),
            "retain_until": self.retain_until.isoformat(),
            "size_bytes": self.size_bytes,
            "media_type": self.media_type,
            "key_id": self.key_id,
            "disposition": self.disposition,
        }


@dataclass(frozen=True, slots=True)
class RecordingQuery:
    """Search criteria; all given ones must match (``flags``: every flag; ``flow``: a flow
    name, any of its versions)."""

    customer_number: CustomerNumber | None = None
    started_from: datetime | None = None
    started_to: datetime | None = None
    business_type: str | None = None
    campaign: str | None = None
    flags: Sequence[str] = ()
    direction: str | None = None
    agent_id: str | None = None
    call_id: str | None = None
    flow: str | None = None
    disposition: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass(frozen=True, slots=True)
class FetchResult:
    """A decrypted recording: written to ``path``, or in memory as ``data``."""

    info: RecordingInfo
    path: Path | None = None
    data: bytes | None = None
