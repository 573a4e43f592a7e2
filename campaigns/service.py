"""Campaign use cases shared by ``ivr campaign`` and ``/api/v1/campaigns`` (sync; SQL).

:class:`CampaignDesk` checks what needs the flows and the rules before anything is written:
the flow exists and is outbound, the purpose has rules, the campaign's windows are not empty
once cut by the rules' window; a list's columns must supply every ``{placeholder}`` of the
flow's prompts; a campaign starts only with a list and inside its dates. Status and export
read the attempt queue; the export holds masked numbers only (with attempts, dispositions,
consent in a call, and whether the number is on the DNC list now).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from campaigns.importer import ImportResult, ListImporter
from campaigns.listfile import flow_placeholders, prompt_ids
from campaigns.model import CampaignError, DailyWindow, Disposition, effective_windows
from campaigns.queue import AttemptQueue
from campaigns.repository import Campaign, CampaignRepository
from campaigns.spec import CampaignSpec
from campaigns.tables import attempts, contacts
from compliance.rules import RuleSet
from compliance.tables import dnc
from flows.registry import FlowRegistry

EXPORT_COLUMNS = (
    "number",
    "attempts",
    "last_disposition",
    "dispositions",
    "consent_granted",
    "dnc",
    "last_hangup_cause",
)


@dataclass(frozen=True, slots=True)
class CampaignStatus:
    campaign: Campaign
    counts: dict[str, int]
    contacts: int
    next_due: datetime | None

    def as_dict(self) -> dict[str, object]:
        return {
            **self.campaign.as_dict(),
            "contacts": self.contacts,
            "counts": self.counts,
            "next_due": self.next_due.isoformat() if self.next_due else None,
        }


class CampaignDesk:
    """See the module docstring."""

    def __init__(
        self,
        engine: sa.Engine,
        importer: ListImporter,
        flows: Callable[[], FlowRegistry],
        rules: Callable[[], RuleSet],
        zone: ZoneInfo,
    ) -> None:
        self.engine = engine
        self.repo = CampaignRepository(engine)
        self.queue = AttemptQueue(engine)
        self.importer = importer
        self._flows = flows
        self._rules = rules
        self.zone = zone

    def create(self, spec: CampaignSpec, *, actor: str, now: datetime) -> Campaign:
        self._flow(spec.flow_id)
        policy = self._rules().purposes.get(spec.purpose)
        if policy is None:
            known = ", ".join(sorted(self._rules().purposes))
            raise CampaignError(
                f"purpose {spec.purpose!r} has no rules (known: {known})",
                field="purpose",
                code="campaign.purpose_unknown",
                params={"purpose": spec.purpose, "known": known},
            )
        if not effective_windows(spec.windows, policy.window):
            raise CampaignError(
                f"the campaign's windows are outside the rules' window for {spec.purpose}",
                field="windows",
                code="campaign.windows_outside_rules",
                params={"purpose": spec.purpose},
            )
        return self.repo.create(spec, actor=actor, now=now)

    def choices(self) -> tuple[list[str], dict[str, str | None]]:
        """What a new campaign may use: the active outbound flows, and each rules purpose with
        its window (``HH:MM-HH:MM``, ``None`` for any time of day)."""
        flows = sorted(
            fid for fid, v in self._flows().active.items() if v.flow.direction == "outbound"
        )
        purposes: dict[str, str | None] = {}
        for name, policy in sorted(self._rules().purposes.items()):
            w = policy.window
            purposes[name] = None if w is None else str(DailyWindow(w.start_minute, w.end_minute))
        return flows, purposes

    def _flow(self, flow_id: str) -> set[str]:
        """The flow's list placeholders; raises when it does not exist or is not outbound."""
        registry = self._flows()
        version = registry.active.get(flow_id)
        if version is None:
            raise CampaignError(
                f"no flow named {flow_id!r}",
                field="flow",
                code="campaign.flow_unknown",
                params={"flow": flow_id},
            )
        flow = version.flow
        if flow.direction != "outbound":
            raise CampaignError(
                f"flow {flow_id!r} is not an outbound flow",
                field="flow",
                code="campaign.flow_not_outbound",
                params={"flow": flow_id},
            )
        table = {**version.prompts, **flow.prompts}
        used = prompt_ids(flow.model_dump(), table)
        texts = {pid: table[pid].text for pid in used}
        return flow_placeholders(texts, used, set(flow.variables))

    def import_list(
        self, ref: str, path: Path, *, now: datetime, progress: Callable[[int], None] | None = None
    ) -> ImportResult:
        camp = self.repo.get(ref)
        placeholders = self._flow(camp.spec.flow_id)
        return self.importer.import_file(
            camp, path, placeholders=placeholders, now=now, progress=progress
        )

    def act(self, ref: str, action: str, *, now: datetime) -> Campaign:
        camp = self.repo.get(ref)
        if action == "start":
            if self.contacts(camp.id) == 0:
                raise CampaignError(
                    f"campaign {camp.name} has an empty list: import one first",
                    code="campaign.empty_list",
                    params={"campaign": camp.name},
                )
            today = now.astimezone(self.zone).date()
            if camp.spec.end_date is not None and today > camp.spec.end_date:
                raise CampaignError(
                    f"campaign {camp.name} ended on {camp.spec.end_date}: outside its dates",
                    code="campaign.ended",
                    params={"campaign": camp.name, "end_date": str(camp.spec.end_date)},
                )
        return self.repo.apply(camp.id, action, now=now)

    def contacts(self, campaign_id: str) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).where(contacts.c.campaign_id == campaign_id)
                ).scalar_one()
            )

    def status(self, ref: str) -> CampaignStatus:
        camp = self.repo.get(ref)
        return CampaignStatus(
            camp, self.queue.counts(camp.id), self.contacts(camp.id), self.queue.next_due(camp.id)
        )

    def export_rows(self, ref: str) -> Iterator[dict[str, object]]:
        """One row per list entry, masked numbers only."""
        camp = self.repo.get(ref)
        c, a = contacts, attempts
        with self.engine.connect() as conn:
            on_dnc = {
                r[0]
                for r in conn.execute(
                    sa.select(dnc.c.number_index).join(c, c.c.number_bi == dnc.c.number_index)
                    .where(c.c.campaign_id == camp.id)
                )
            }  # fmt: skip
            per: dict[str, list[tuple[str | None, str | None]]] = {}
            for r in conn.execute(
                sa.select(a.c.contact_id, a.c.disposition, a.c.hangup_cause)
                .where(a.c.campaign_id == camp.id)
                .order_by(a.c.attempt_no)
            ):
                per.setdefault(r.contact_id, []).append((r.disposition, r.hangup_cause))
            for e in conn.execute(
                sa.select(c.c.id, c.c.masked_number, c.c.number_bi)
                .where(c.c.campaign_id == camp.id)
                .order_by(c.c.source_row)
            ):
                seen = per.get(e.id, [])
                dispositions = [d for d, _ in seen if d]
                yield {
                    "number": e.masked_number,
                    "attempts": sum(1 for d in dispositions if d not in _NOT_DIALLED),
                    "last_disposition": dispositions[-1] if dispositions else "queued",
                    "dispositions": ";".join(dispositions),
                    "consent_granted": Disposition.CONSENT_GRANTED.value in dispositions,
                    "dnc": e.number_bi in on_dnc,
                    "last_hangup_cause": next((h for _, h in reversed(seen) if h), ""),
                }

    def export_csv(self, ref: str) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in self.export_rows(ref):
            writer.writerow(row)
        return out.getvalue()


_NOT_DIALLED = frozenset(
    {Disposition.DNC.value, Disposition.STOPPED.value, Disposition.NOT_ALLOWED.value}
)
