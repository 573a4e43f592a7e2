"""Campaigns in SQL: create, read, list, change state (sync; callers use a thread).

A state change and what it implies commit together: ``stop`` cancels every queued attempt of
the campaign in the same transaction (disposition ``stopped``), so a stopped campaign has no
attempt left to claim; attempts already claimed are given up by their dialler, which re-reads
campaign states several times a second (:mod:`campaigns.dialler`).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from campaigns.model import (
    CampaignError,
    CampaignState,
    DailyWindow,
    Disposition,
    PacingMode,
    RetryPolicy,
    transition,
)
from campaigns.spec import CampaignSpec
from campaigns.tables import attempts, campaigns
from records.timeutil import from_db, to_db


class CampaignNotFoundError(CampaignError):
    """No campaign with that id or name."""


@dataclass(frozen=True, slots=True)
class Campaign:
    """A stored campaign."""

    id: str
    spec: CampaignSpec
    state: CampaignState
    created_by: str
    created_at: datetime
    updated_at: datetime

    @property
    def name(self) -> str:
        return self.spec.name

    def as_dict(self) -> dict[str, object]:
        s = self.spec
        return {
            "id": self.id,
            "name": s.name,
            "state": self.state.value,
            "flow": s.flow_id,
            "flow_version": s.flow_version,
            "purpose": s.purpose,
            "caller_ids": list(s.caller_ids),
            "windows": [str(w) for w in s.windows],
            "start_date": s.start_date.isoformat() if s.start_date else None,
            "end_date": s.end_date.isoformat() if s.end_date else None,
            "max_attempts": s.max_attempts,
            "retry_policy": s.retry.as_dict(),
            "max_concurrency": s.max_concurrency,
            "max_cps": s.max_cps,
            "pacing": s.pacing.value,
            "priority": s.priority,
            "abandon_target": s.abandon_target,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


def _row_to_campaign(row: sa.Row[tuple[object, ...]]) -> Campaign:
    m = row._mapping
    spec = CampaignSpec(
        name=m["name"],
        flow_id=m["flow_id"],
        flow_version=m["flow_version"],
        purpose=m["purpose"],
        caller_ids=tuple(json.loads(m["caller_ids"])),
        windows=tuple(DailyWindow.parse(w) for w in json.loads(m["windows"])),
        start_date=m["start_date"],
        end_date=m["end_date"],
        max_attempts=m["max_attempts"],
        retry=RetryPolicy.from_dict(json.loads(m["retry_policy"])),
        max_concurrency=m["max_concurrency"],
        max_cps=m["max_cps"],
        pacing=PacingMode(m["pacing"]),
        priority=m["priority"],
        abandon_target=m["abandon_target"],
    )
    return Campaign(
        m["id"],
        spec,
        CampaignState(m["state"]),
        m["created_by"],
        from_db(m["created_at"]),
        from_db(m["updated_at"]),
    )


def _date(value: date | None) -> date | None:
    return value


class CampaignRepository:
    """The ``campaigns`` table (see the module docstring)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, spec: CampaignSpec, *, actor: str, now: datetime) -> Campaign:
        """Store a new campaign in ``draft``; a taken name is a :class:`CampaignError`."""
        cid = str(uuid.uuid4())
        values = {
            "id": cid,
            "name": spec.name,
            "flow_id": spec.flow_id,
            "flow_version": spec.flow_version,
            "purpose": spec.purpose,
            "caller_ids": json.dumps(list(spec.caller_ids)),
            "windows": json.dumps([str(w) for w in spec.windows]),
            "start_date": _date(spec.start_date),
            "end_date": _date(spec.end_date),
            "max_attempts": spec.max_attempts,
            "retry_policy": json.dumps(spec.retry.as_dict()),
            "max_concurrency": spec.max_concurrency,
            "max_cps": spec.max_cps,
            "pacing": spec.pacing.value,
            "priority": spec.priority,
            "abandon_target": spec.abandon_target,
            "state": CampaignState.DRAFT.value,
            "created_by": actor,
            "created_at": to_db(now),
            "updated_at": to_db(now),
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(campaigns.insert().values(**values))
        except IntegrityError as exc:
            raise CampaignError(
                f"a campaign named {spec.name!r} exists already",
                field="name",
                code="campaign.name_taken",
                params={"name": spec.name},
            ) from exc
        return self.get(cid)

    def get(self, ref: str) -> Campaign:
        """By id or name."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(campaigns).where(sa.or_(campaigns.c.id == ref, campaigns.c.name == ref))
            ).first()
        if row is None:
            raise CampaignNotFoundError(f"no campaign {ref!r}")
        return _row_to_campaign(row)

    def all(self) -> list[Campaign]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(campaigns).order_by(campaigns.c.created_at)).all()
        return [_row_to_campaign(r) for r in rows]

    def running(self) -> list[Campaign]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(campaigns).where(campaigns.c.state == CampaignState.RUNNING.value)
            ).all()
        return [_row_to_campaign(r) for r in rows]

    def states(self) -> dict[str, CampaignState]:
        """Every campaign's state (the dialler's several-times-a-second poll)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(campaigns.c.id, campaigns.c.state)).all()
        return {r.id: CampaignState(r.state) for r in rows}

    def apply(self, ref: str, action: str, *, now: datetime) -> Campaign:
        """Run ``action`` (start, pause, resume, stop, finish) on the campaign; the state
        machine of :func:`campaigns.model.transition` decides what is allowed."""
        with self.engine.begin() as conn:
            sel = sa.select(campaigns.c.id, campaigns.c.state).where(
                sa.or_(campaigns.c.id == ref, campaigns.c.name == ref)
            )
            if self.engine.dialect.name == "postgresql":
                sel = sel.with_for_update()
            row = conn.execute(sel).first()
            if row is None:
                raise CampaignNotFoundError(f"no campaign {ref!r}")
            new = transition(CampaignState(row.state), action)
            # a guarded update: a concurrent change in between is not overwritten
            done = conn.execute(
                campaigns.update()
                .where(campaigns.c.id == row.id, campaigns.c.state == row.state)
                .values(state=new.value, updated_at=to_db(now))
            ).rowcount
            if done != 1:
                raise CampaignError(
                    "the campaign changed meanwhile; try again", code="campaign.changed_meanwhile"
                )
            if new in (CampaignState.STOPPED, CampaignState.FINISHED):
                conn.execute(
                    attempts.update()
                    .where(attempts.c.campaign_id == row.id, attempts.c.state == "queued")
                    .values(
                        state="cancelled",
                        disposition=Disposition.STOPPED.value,
                        ended_at=to_db(now),
                    )
                )
        return self.get(row.id)
