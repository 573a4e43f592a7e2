"""Batch QA of stored recordings as a resumable job (adapter).

A job covers the recordings whose call started in ``[from, to)``. :meth:`BatchJobs.open`
finds the unfinished job for that range (or makes one) and lists its recordings as ``pending``
items in SQL; :meth:`BatchJobs.run` inspects each pending item and marks it ``done`` (with its
result id) or ``failed`` (with the error's class only: no transcript), committing per item. A
job stopped anywhere (Ctrl-C, crash) resumes where it stopped: items already done are skipped.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy import Engine

from qa.tables import qa_batch_items, qa_batch_jobs
from records.timeutil import from_db, to_db, utcnow
from records.vault import RecordingQuery, Vault

log = logging.getLogger(__name__)
PAGE = 1000


@dataclass(frozen=True, slots=True)
class JobStatus:
    job_id: str
    status: str
    total: int
    done: int
    failed: int
    resumed: bool = False
    started_from: datetime | None = None  # the job's range of call start times
    started_to: datetime | None = None

    def as_dict(self) -> dict[str, object]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "resumed": self.resumed,
            "started_from": self.started_from.isoformat() if self.started_from else None,
            "started_to": self.started_to.isoformat() if self.started_to else None,
        }


Inspect = Callable[[str], Awaitable[str]]  # recording id -> result id
Progress = Callable[[int, int], None]  # (finished, total)


class BatchJobs:
    def __init__(self, engine: Engine, vault: Vault, *, clock: Callable[[], datetime] = utcnow):
        self._engine = engine
        self._vault = vault
        self._clock = clock

    def open(self, started_from: datetime, started_to: datetime) -> JobStatus:
        """The unfinished job for this range, or a new one listing its recordings."""
        j = qa_batch_jobs.c
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(j.job_id).where(
                    (j.started_from == to_db(started_from))
                    & (j.started_to == to_db(started_to))
                    & (j.status != "finished")
                )
            ).first()
        if row is not None:
            return self._reset_failed(row.job_id)
        from records.vault import Actor

        actor = Actor("qa-batch", "compliance_officer")
        ids: list[str] = []
        offset = 0
        while True:
            page = self._vault.search(
                actor,
                RecordingQuery(
                    started_from=started_from, started_to=started_to, limit=PAGE, offset=offset
                ),
            )
            ids += [i.recording_id for i in page]
            if len(page) < PAGE:
                break
            offset += PAGE
        job_id = uuid.uuid4().hex
        now = to_db(self._clock())
        with self._engine.begin() as conn:
            conn.execute(
                qa_batch_jobs.insert().values(
                    job_id=job_id,
                    started_from=to_db(started_from),
                    started_to=to_db(started_to),
                    status="open",
                    total=len(ids),
                    done=0,
                    failed=0,
                    created_at=now,
                    updated_at=now,
                )
            )
            if ids:
                conn.execute(
                    qa_batch_items.insert(),
                    [{"job_id": job_id, "recording_id": r, "status": "pending"} for r in ids],
                )
        return self.status(job_id)

    def _reset_failed(self, job_id: str) -> JobStatus:
        """Resuming retries the items that failed last time."""
        i = qa_batch_items.c
        with self._engine.begin() as conn:
            conn.execute(
                qa_batch_items.update()
                .where((i.job_id == job_id) & (i.status == "failed"))
                .values(status="pending", error=None)
            )
        return dataclasses.replace(self.status(job_id), resumed=True)

    def jobs(self, limit: int = 20) -> list[JobStatus]:
        """The newest jobs first, with their progress."""
        j = qa_batch_jobs.c
        with self._engine.connect() as conn:
            ids = [
                r.job_id
                for r in conn.execute(
                    sa.select(j.job_id).order_by(j.created_at.desc(), j.job_id).limit(limit)
                )
            ]
        return [self.status(job_id) for job_id in ids]

    def find(self, job_id: str) -> JobStatus | None:
        """The job's status, ``None`` when there is no such job."""
        with self._engine.connect() as conn:
            found = conn.execute(
                sa.select(qa_batch_jobs.c.job_id).where(qa_batch_jobs.c.job_id == job_id)
            ).first()
        return self.status(job_id) if found else None

    def status(self, job_id: str) -> JobStatus:
        i = qa_batch_items.c
        with self._engine.connect() as conn:
            job = (
                conn.execute(sa.select(qa_batch_jobs).where(qa_batch_jobs.c.job_id == job_id))
                .mappings()
                .one()
            )
            counts: dict[str, int] = dict(
                conn.execute(
                    sa.select(i.status, sa.func.count())
                    .where(i.job_id == job_id)
                    .group_by(i.status)
                ).all()
            )
        return JobStatus(
            job_id,
            job["status"],
            int(job["total"]),
            int(counts.get("done", 0)),
            int(counts.get("failed", 0)),
            started_from=from_db(job["started_from"]),
            started_to=from_db(job["started_to"]),
        )

    async def run(
        self, job_id: str, inspect: Inspect, progress: Progress | None = None
    ) -> JobStatus:
        """Inspect every pending item of the job; returns its final status."""
        i = qa_batch_items.c
        with self._engine.connect() as conn:
            pending = [
                r.recording_id
                for r in conn.execute(
                    sa.select(i.recording_id)
                    .where((i.job_id == job_id) & (i.status == "pending"))
                    .order_by(i.recording_id)
                )
            ]
        status = self.status(job_id)
        finished = status.done + status.failed
        if progress:
            progress(finished, status.total)
        for recording_id in pending:
            try:
                result_id = await inspect(recording_id)
                values: dict[str, object] = {"status": "done", "result_id": result_id}
            except Exception as exc:  # one bad recording never stops the job
                log.exception(
                    "QA batch %s: recording %s failed: %s", job_id, recording_id, type(exc).__name__
                )
                values = {"status": "failed", "error": type(exc).__name__}
            with self._engine.begin() as conn:
                conn.execute(
                    qa_batch_items.update()
                    .where((i.job_id == job_id) & (i.recording_id == recording_id))
                    .values(**values)
                )
                conn.execute(
                    qa_batch_jobs.update()
                    .where(qa_batch_jobs.c.job_id == job_id)
                    .values(updated_at=to_db(self._clock()))
                )
            finished += 1
            if progress:
                progress(finished, status.total)
        final = self.status(job_id)
        with self._engine.begin() as conn:
            conn.execute(
                qa_batch_jobs.update()
                .where(qa_batch_jobs.c.job_id == job_id)
                .values(
                    status="finished" if final.failed == 0 else "open",
                    done=final.done,
                    failed=final.failed,
                    updated_at=to_db(self._clock()),
                )
            )
        return self.status(job_id)
