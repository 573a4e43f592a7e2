"""A fallback :class:`EvidenceSink` that only logs, until the records package provides one."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from ivr.evidence import EvidenceKind

log = logging.getLogger(__name__)


class LogEvidenceSink:
    """Writes each entry to the log (payloads hold no customer data: reasons and call ids)."""

    async def append(
        self, kind: EvidenceKind, *, call_id: str | None, payload: Mapping[str, object]
    ) -> None:
        log.warning("evidence %s call=%s %s", kind.value, call_id, dict(payload))
