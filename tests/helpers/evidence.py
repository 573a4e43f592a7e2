"""An in-memory :class:`ivr.evidence.EvidenceSink` for tests that do not need the SM3 chain."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ivr.evidence import EvidenceKind


@dataclass
class MemorySink:
    """Keeps every appended entry as ``(kind, call_id, payload)``."""

    entries: list[tuple[EvidenceKind, str | None, dict[str, object]]] = field(default_factory=list)

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        self.entries.append((kind, call_id, dict(payload)))

    def kinds(self) -> list[EvidenceKind]:
        return [k for k, _, _ in self.entries]
