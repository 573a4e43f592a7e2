"""QA results that survive a database outage: :class:`QaResultSpool` and its replayer.

When the SQL store cannot take a call's QA result, :meth:`qa.store.QaResultStore.save` hands
the rows it tried to write (:class:`qa.store.ResultRows`: the result row under its result id,
the findings) to :class:`QaResultSpool`, which writes them to the outage spool
(:mod:`ivr.spool`, fsync'd) and returns; the ``qa_result`` evidence then goes to the process's
spooled evidence sink, after this item. A finding holds the phrase that was said (a transcript
piece: customer data), so the findings are sealed before they touch the spool file: SM4-GCM
under a fresh data key wrapped by the records key ring (:mod:`records.sealed_value`), bound to
the result id. The key ring is the composition root's (the one the vault uses); the result row
beside them (call id, source, purpose, campaign, flow, agent id, times, score, rules version)
holds no customer data.

:class:`QaResultReplay` writes a spooled result in one transaction with its own result id: a
result id already stored is skipped, so a replay cut off by a crash, or run twice, never doubles
the result or its findings; a result of the same call and source checked later (a re-run after
the database came back) is kept, and the older spooled one dropped.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from ivr.errors import StoreUnavailableError
from ivr.spool import Spool, SpoolItem
from qa.store import ResultRows, write_result_in
from qa.tables import qa_results
from records.keys import Keyring
from records.sealed_value import open_value, seal_value

KIND = "qa_result"
_TIMES = ("call_started_at", "checked_at")


def _context(result_id: str) -> bytes:
    return f"qa-findings|{result_id}".encode("ascii")


class QaResultSpool:
    """The QA result store's side of the outage spool (see the module docstring)."""

    def __init__(self, spool: Spool, keyring: Keyring) -> None:
        self.spool = spool
        self._keyring = keyring

    def body(self, rows: ResultRows) -> dict[str, Any]:
        """What the spool keeps of ``rows``: the result row in clear, the findings sealed."""
        result = dict(rows.result)
        for name in _TIMES:
            result[name] = result[name].isoformat()
        plain = json.dumps(rows.findings, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return {
            "result": result,
            "findings": seal_value(self._keyring, _context(rows.result_id), plain),
        }

    async def put(self, rows: ResultRows) -> None:
        """Spool a result the store could not take; returns once it is on disk."""
        await self.spool.aput(KIND, self.body(rows), key=rows.result_id)


def rows_of(item: SpoolItem, keyring: Keyring) -> ResultRows:
    """The rows a spooled result holds (its findings opened; authenticated)."""
    result = dict(item.body["result"])
    for name in _TIMES:
        result[name] = datetime.fromisoformat(result[name])  # naive UTC, as the columns
    result_id = str(result["result_id"])
    plain = open_value(keyring, _context(result_id), item.body["findings"], what="QA findings")
    return ResultRows(result_id, result, list(json.loads(plain.decode("utf-8"))))


class QaResultReplay:
    """Spooled QA results into the store (idempotent per result id)."""

    def __init__(self, engine: sa.Engine, keyring: Keyring) -> None:
        self.engine = engine
        self._keyring = keyring

    def prepare(self) -> None:
        return None

    def apply(self, items: Sequence[SpoolItem]) -> None:
        for item in items:
            rows = rows_of(item, self._keyring)
            try:
                with self.engine.begin() as conn:
                    if not _superseded(conn, rows):
                        write_result_in(conn, rows)
            except SQLAlchemyError as exc:
                raise StoreUnavailableError(f"QA result store: {type(exc).__name__}") from exc

    def applied(self, items: Sequence[SpoolItem], token: str) -> set[int]:
        return set()  # applying again is harmless


def _superseded(conn: sa.Connection, rows: ResultRows) -> bool:
    """Whether the store has this result already, or a later one of its call and source."""
    r, c = rows.result, qa_results.c
    stored = conn.execute(
        sa.select(c.result_id, c.checked_at).where(
            (c.call_id == r["call_id"]) & (c.source == r["source"])
        )
    ).first()
    if stored is None:
        return False
    return bool(stored.result_id == rows.result_id or stored.checked_at > r["checked_at"])
