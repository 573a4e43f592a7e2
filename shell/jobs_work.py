"""What the scheduled jobs of :mod:`shell.jobs` do besides the evidence and retention ones: QA of
yesterday's recordings, yesterday's QA report, overdue callback alerts. Each builds what it needs
from settings and releases it; "yesterday" is the institution's calendar day
(``IVR_INSTITUTION_TIMEZONE``), whatever zone the worker runs in.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from agents.callbacks import CallbackWork, alert_overdue_once
from agents.service import overdue_alerts
from campaigns.callbacks import CallbackTickets
from ivr.db import make_engine
from ivr.settings import Settings
from qa.batch import BatchJobs
from qa.render import render_html, render_pdf
from qa.report import build_report, day_bounds
from qa.service import build_qa, build_recording_qa
from records.evidence_store import SqlEvidenceLog
from records.vault import Vault


def yesterday(settings: Settings, now: datetime) -> date:
    """The institution's previous calendar day at ``now``."""
    return (now.astimezone(ZoneInfo(settings.institution_timezone)) - timedelta(days=1)).date()


async def qa_batch_day(settings: Settings, day: date) -> dict[str, Any]:
    """QA every stored recording of calls started on ``day`` (a resumable batch job: a rerun
    continues the same job and skips what is done)."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        vault = Vault.from_settings(settings, engine)
        jobs = BatchJobs(engine, vault)
        lo, hi = day_bounds(day, day + timedelta(days=1), settings.institution_timezone)
        opened = jobs.open(lo, hi)
        if opened.total == 0:
            return opened.as_dict()
        rqa = build_recording_qa(settings, vault, build_qa(settings, vault.evidence, engine))

        async def inspect(recording_id: str) -> str:
            result_id, _ = await rqa.inspect(recording_id)
            return result_id

        return (await jobs.run(opened.job_id, inspect)).as_dict()
    finally:
        engine.dispose()


def qa_report_day(settings: Settings, day: date) -> dict[str, Any]:
    """``day``'s QA report as PDF and HTML under ``<data_dir>/reports/``."""
    engine = make_engine(settings.sqlalchemy_url)
    try:
        store = build_qa(settings, SqlEvidenceLog(engine), engine).store
        zone = settings.institution_timezone
        lo, hi = day_bounds(day, day + timedelta(days=1), zone)
        rep = build_report(store.results(started_from=lo, started_to=hi), day, day, "day", zone)
        folder = Path(settings.data_dir) / "reports"
        folder.mkdir(parents=True, exist_ok=True)
        pdf, html = folder / f"qa-report-{day}.pdf", folder / f"qa-report-{day}.html"
        pdf.write_bytes(render_pdf(rep))
        html.write_text(render_html(rep), encoding="utf-8")
        return {"calls": rep.as_dict()["calls"], "pdf": str(pdf), "html": str(html)}
    finally:
        engine.dispose()


async def callbacks_overdue(settings: Settings) -> dict[str, Any]:
    """Alert every overdue callback ticket not alerted yet (once each, on the event bus)."""
    engine = make_engine(settings.sqlalchemy_url)
    alerts = overdue_alerts(settings)
    try:
        vault = Vault.from_settings(settings, engine)
        tickets = CallbackTickets(engine, vault.numbers, vault.evidence)
        work = CallbackWork(engine, tickets, sla_s=settings.floor_callback_sla_s)
        return {"alerted": await alert_overdue_once(work, alerts)}
    finally:
        await alerts.aclose()
        engine.dispose()
