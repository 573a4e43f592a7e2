"""Importing a list file into a campaign: sealed numbers only, duplicates merged, idempotent.

:meth:`ListImporter.import_file` reads the file (:mod:`campaigns.listfile`), checks the header
against the flow's placeholders, then writes in ONE transaction: each new number as a
``campaign_contacts`` row (blind index, masked form, SM4-sealed value under context
``campaign-contact|<id>``; never in clear; the row's prompt variables sealed too,
:func:`campaigns.contact_vars.seal_variables`), its first ``queued`` attempt, and the
``campaign_imports`` row of the file's SHA-256. A number already in the campaign (this file or
an earlier one) is merged, not added. The same file imported again returns the first import's
result and writes nothing. A header error writes nothing; row errors are returned per row.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from campaigns.contact_vars import seal_variables
from campaigns.listfile import (
    ListFileError,
    ListRow,
    RowError,
    check_header,
    check_row,
    read_cells,
)
from campaigns.model import CampaignState
from campaigns.queue import contact_context
from campaigns.repository import Campaign
from campaigns.tables import attempts, contacts, imports
from campaigns.writes import QUEUED
from records.sealed_number import NumberSealer
from records.timeutil import to_db

BATCH = 2000
MAX_FILE_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImportResult:
    import_id: str
    rows: int
    accepted: int
    merged: int
    errors: tuple[RowError, ...] = field(default=())
    repeated: bool = False  # this file had been imported before: nothing written

    def as_dict(self) -> dict[str, object]:
        return {
            "import_id": self.import_id,
            "rows": self.rows,
            "accepted": self.accepted,
            "merged": self.merged,
            "errors": [e.as_dict() for e in self.errors],
            "repeated": self.repeated,
        }


class ListImporter:
    """See the module docstring."""

    def __init__(self, engine: sa.Engine, sealer: NumberSealer, region: str = "CN") -> None:
        self.engine = engine
        self.sealer = sealer
        self.region = region

    def import_file(
        self,
        campaign: Campaign,
        path: Path,
        *,
        placeholders: set[str],
        now: datetime,
        progress: Callable[[int], None] | None = None,
    ) -> ImportResult:
        """Import ``path`` (CSV or XLSX) into ``campaign``; ``placeholders``: the columns the
        flow's prompts need. ``progress(rows_done)`` is called as rows are read."""
        if campaign.state in (CampaignState.STOPPED, CampaignState.FINISHED):
            raise ListFileError(
                f"campaign {campaign.name} is {campaign.state.value}",
                code="list.campaign_state",
                params={"campaign": campaign.name, "state": campaign.state.value},
            )
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ListFileError(
                f"cannot read {path.name}: {exc.strerror}", code="list.unreadable"
            ) from None
        if len(data) > MAX_FILE_BYTES:
            raise ListFileError(
                f"list file larger than {MAX_FILE_BYTES // 2**20} MiB",
                code="list.too_large",
                params={"max_mib": MAX_FILE_BYTES // 2**20},
            )
        digest = hashlib.sha256(data).hexdigest()
        previous = self._previous(campaign.id, digest)
        if previous is not None:
            return previous
        cells = iter(read_cells(path, data))
        header_cells = next(cells, None)
        if header_cells is None:
            raise ListFileError("the list file is empty", code="list.empty")
        header = check_header(header_cells, placeholders)
        good: list[ListRow] = []
        errors: list[RowError] = []
        rows = 0
        for n, row_cells in enumerate(cells, start=2):
            checked = check_row(n, row_cells, header, self.region)
            if checked is None:
                continue
            rows += 1
            if isinstance(checked, RowError):
                errors.append(checked)
            else:
                good.append(checked)
            if progress is not None and rows % 1000 == 0:
                progress(rows)
        if rows == 0:
            raise ListFileError("the list has no rows", code="list.no_rows")
        result = self._write(campaign, path.name, digest, rows, good, errors, now)
        if progress is not None:
            progress(rows)
        return result

    def _previous(self, campaign_id: str, digest: str) -> ImportResult | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(imports).where(
                    imports.c.campaign_id == campaign_id, imports.c.sha256 == digest
                )
            ).first()
        if row is None:
            return None
        errors = tuple(
            RowError(
                e["row"],
                e["column"],
                e["why"],
                e.get("code", "list.row_invalid"),
                e.get("params", {}),
            )
            for e in json.loads(row.errors)
        )
        return ImportResult(row.id, row.rows, row.accepted, row.merged, errors, repeated=True)

    def _write(
        self,
        campaign: Campaign,
        filename: str,
        digest: str,
        rows: int,
        good: list[ListRow],
        errors: list[RowError],
        now: datetime,
    ) -> ImportResult:
        t = to_db(now)
        import_id = str(uuid.uuid4())
        accepted = merged = 0
        with self.engine.begin() as conn:
            existing = {
                r[0]
                for r in conn.execute(
                    sa.select(contacts.c.number_bi).where(contacts.c.campaign_id == campaign.id)
                )
            }
            contact_rows: list[dict[str, object]] = []
            attempt_rows: list[dict[str, object]] = []
            for row in good:
                bi = self.sealer.blind_index(row.number)
                if bi in existing:
                    merged += 1
                    continue
                existing.add(bi)
                cid = str(uuid.uuid4())
                sealed = self.sealer.seal(row.number, contact_context(cid))
                contact_rows.append(
                    {
                        "id": cid,
                        "campaign_id": campaign.id,
                        "number_bi": sealed.blind_index,
                        "masked_number": sealed.masked,
                        "key_id": sealed.key_id,
                        "wrapped_key": sealed.wrapped_key,
                        "number_sealed": sealed.ciphertext,
                        "name": row.name,
                        "timezone": row.timezone,
                        "variables": seal_variables(self.sealer, cid, row.variables),
                        "source_row": row.row,
                        "created_at": t,
                    }
                )
                attempt_rows.append(
                    {
                        "id": str(uuid.uuid4()),
                        "campaign_id": campaign.id,
                        "contact_id": cid,
                        "number_bi": sealed.blind_index,
                        "attempt_no": 1,
                        "state": QUEUED,
                        "due_at": t,
                        "priority": campaign.spec.priority,
                        "created_at": t,
                    }
                )
                accepted += 1
                if len(contact_rows) >= BATCH:
                    conn.execute(contacts.insert(), contact_rows)
                    conn.execute(attempts.insert(), attempt_rows)
                    contact_rows, attempt_rows = [], []
            if contact_rows:
                conn.execute(contacts.insert(), contact_rows)
                conn.execute(attempts.insert(), attempt_rows)
            try:
                conn.execute(
                    imports.insert().values(
                        id=import_id,
                        campaign_id=campaign.id,
                        sha256=digest,
                        filename=filename[:256],
                        rows=rows,
                        accepted=accepted,
                        merged=merged,
                        errors=json.dumps([e.as_dict() for e in errors], ensure_ascii=False),
                        created_at=t,
                    )
                )
            except IntegrityError:
                # the same file imported concurrently: the other import won, this one rolls back
                conn.rollback()
                previous = self._previous(campaign.id, digest)
                if previous is None:
                    raise
                return previous
        return ImportResult(import_id, rows, accepted, merged, tuple(errors))
