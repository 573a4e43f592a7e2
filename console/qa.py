"""The console's quality inspection: stored results, the live alert stream, reports and batch
jobs (an adapter over ``qa/``; the routes are ``console/api/qa_routes.py``).

Batch jobs run as tasks on the console's event loop; a job stopped by a restart stays
unfinished in SQL and resumes when the same range is started again (``qa.batch.BatchJobs``).
The recording inspector (ASR and VAD from ``speech.factory``) is built on the first recording a
job inspects, off the event loop, and kept. Live alerts are read from the Redis stream the
calls publish to (``IVR_REDIS_URL``); without Redis the console says so (``available:
false``), it never shows an empty stream as if it were quiet.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

from ivr.settings import Settings
from ivr.supervise import cancel_and_wait
from qa.alerts import LiveAlert
from qa.batch import BatchJobs, Inspect, JobStatus
from qa.render import render_html, render_pdf
from qa.report import Report, build_report, day_bounds
from qa.service import QaRuntime, alert_stream, build_recording_qa
from qa.store import QaResultStore
from records.vault import Vault

log = logging.getLogger(__name__)
MAX_REPORT_DAYS = 366

InspectorFactory = Callable[[], Inspect]


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Alerts after a stream id, and the id to ask after next time."""

    available: bool
    alerts: tuple[tuple[str, LiveAlert], ...]
    last_id: str


class ConsoleQa:
    """QA for the console: one per console context."""

    def __init__(
        self,
        settings: Settings,
        runtime: QaRuntime,
        vault: Vault,
        make_inspector: InspectorFactory | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.jobs = BatchJobs(runtime.engine, vault)
        self._make_inspector = make_inspector or self._recording_inspector(vault)
        self._inspector: Inspect | None = None
        self._tasks: dict[str, asyncio.Task[JobStatus]] = {}

    @property
    def store(self) -> QaResultStore:
        return self.runtime.store

    def _recording_inspector(self, vault: Vault) -> InspectorFactory:
        def make() -> Inspect:
            rqa = build_recording_qa(self.settings, vault, self.runtime)

            async def inspect(recording_id: str) -> str:
                result_id, _ = await rqa.inspect(recording_id)
                return result_id

            return inspect

        return make

    # -- batch jobs ----------------------------------------------------------------------------

    async def start_batch(self, started_from: datetime, started_to: datetime) -> JobStatus:
        """Open (or resume) the job for this range and run it in the background."""
        opened = await asyncio.to_thread(self.jobs.open, started_from, started_to)
        task = self._tasks.get(opened.job_id)
        if task is None or task.done():
            task = asyncio.get_running_loop().create_task(self._run(opened.job_id))
            task.add_done_callback(self._finished)
            self._tasks[opened.job_id] = task
        return opened

    def running(self, job_id: str) -> bool:
        task = self._tasks.get(job_id)
        return task is not None and not task.done()

    async def _inspect(self, recording_id: str) -> str:
        if self._inspector is None:
            self._inspector = await asyncio.to_thread(self._make_inspector)
        return await self._inspector(recording_id)

    async def _run(self, job_id: str) -> JobStatus:
        return await self.jobs.run(job_id, self._inspect)

    @staticmethod
    def _finished(task: asyncio.Task[JobStatus]) -> None:
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:  # the job stays unfinished and resumes when started again
            log.error("QA batch job crashed: %s", type(error).__name__, exc_info=error)

    async def stop(self) -> None:
        """Cancel running jobs (they resume when their range is started again)."""
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            await cancel_and_wait(task)
        self._tasks.clear()

    # -- live alerts ---------------------------------------------------------------------------

    async def alerts(self, after: str | None, wait_ms: int, count: int = 100) -> AlertBatch:
        """The newest ``count`` alerts (``after`` is ``None``) or those after ``after``, waiting
        up to ``wait_ms`` for one (long polling)."""
        if not self.settings.redis_url:
            return AlertBatch(False, (), after or "0-0")
        stream = alert_stream(self.settings)
        try:
            if after is None:
                found = await stream.recent(count)
            else:
                found = await stream.read(after, block_ms=wait_ms or None, count=count)
        finally:
            await stream.aclose()
        last = found[-1][0] if found else (after or "0-0")
        return AlertBatch(True, tuple(found), last)

    # -- reports -------------------------------------------------------------------------------

    def report(self, start: date, end: date, period: str) -> Report:
        """The QA report of calls started on local days ``[start, end)``."""
        zone = self.settings.institution_timezone
        lo, hi = day_bounds(start, end, zone)
        results = self.store.results(started_from=lo, started_to=hi)
        return build_report(results, start, end, period, zone)

    @staticmethod
    def render(report: Report, fmt: str) -> bytes:
        return render_pdf(report) if fmt == "pdf" else render_html(report).encode("utf-8")
