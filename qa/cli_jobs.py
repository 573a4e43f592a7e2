"""`ivr qa call|batch|report`: QA of stored calls, batch jobs and reports (registered by
:mod:`qa.cli`). Each authenticates the person at the terminal (``--token``/``IVR_TOKEN`` or a
mapped OS user; ``qa.read``, ``qa.batch``, ``qa.reports``), builds its dependencies explicitly
from settings (vault, evidence log, ASR through :mod:`speech.factory`) and takes ``--json``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from console.cli import TOKEN_OPTION, acting_principal
from console.permissions import Permission
from ivr.db import make_engine, migrate
from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import Settings, get_settings
from qa.batch import BatchJobs
from qa.postcall import RecordingQa
from qa.render import render_html, render_pdf
from qa.report import build_report, day_bounds
from qa.service import build_qa, build_recording_qa
from records.evidence_store import SqlEvidenceLog
from records.vault import Actor, RecordingQuery, Vault


def register(qa_app: typer.Typer) -> None:
    qa_app.command("call")(call)
    qa_app.command("batch")(batch)
    qa_app.command("report")(report)


def _engine(settings: Settings) -> sa.Engine:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        if not sa.inspect(engine).has_table("qa_results"):
            migrate(settings.sqlalchemy_url)
    except Exception as exc:
        raise fail(f"database unavailable: {type(exc).__name__}") from exc
    return engine


def _recording_qa(settings: Settings, engine: sa.Engine) -> tuple[Vault, RecordingQa]:
    vault = Vault.from_settings(settings, engine)
    return vault, build_recording_qa(settings, vault, build_qa(settings, vault.evidence, engine))


def _local(value: datetime, zone: str) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(zone))


def call(
    call_id: str = typer.Argument(..., help="the call id"),
    recheck: bool = typer.Option(False, help="QA the stored recording again"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a call's QA result; QA its stored recording first if it has none (or --recheck)."""
    acting_principal(Permission.QA_READ, token, "qa")
    settings = get_settings()
    engine = _engine(settings)
    store = build_qa(settings, SqlEvidenceLog(engine), engine).store
    results = store.get(call_id)
    try:
        if recheck or not results:
            vault, rqa = _recording_qa(settings, engine)
            found = vault.search(
                Actor("qa-cli", "compliance_officer"), RecordingQuery(call_id=call_id)
            )
            if not found:
                raise fail(f"no QA result and no stored recording for call {call_id}")
            asyncio.run(rqa.inspect(found[0].recording_id))
            results = store.get(call_id)
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit([r.as_dict() for r in results], as_json, _format_results)


def _format_results(data: list[dict[str, Any]]) -> str:
    lines = []
    for r in data:
        verdict = "PASS" if r["passed"] else "FAIL"
        lines.append(
            f"call {r['call_id']} ({r['source']}): score {r['score']} {verdict}, "
            f"rules {r['rules_version']}"
        )
        for f in r["findings"]:
            at = f"{f['offset_ms'] / 1000:.1f}s" if f["offset_ms"] is not None else "-"
            lines.append(
                f"  {at:>8} {f['speaker'] or '-':<6} {f['kind']:<11} {f['rule']:<20} {f['phrase']}"
            )
    return "\n".join(lines) or "no results"


def batch(
    start: datetime = typer.Option(..., "--from", help="calls started from (ISO 8601)"),
    end: datetime = typer.Option(..., "--to", help="calls started before (ISO 8601)"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """QA every stored recording of calls started in [--from, --to): resumable, with progress."""
    acting_principal(Permission.QA_BATCH, token, "qa")
    settings = get_settings()
    engine = _engine(settings)
    vault, rqa = _recording_qa(settings, engine)
    jobs = BatchJobs(engine, vault)
    zone = settings.institution_timezone
    opened = jobs.open(_local(start, zone), _local(end, zone))

    async def inspect(recording_id: str) -> str:
        result_id, _ = await rqa.inspect(recording_id)
        return result_id

    with Progress(
        TextColumn("QA batch"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        disable=as_json,
        transient=False,
    ) as bar:
        task = bar.add_task("qa", total=opened.total)
        status = asyncio.run(
            jobs.run(
                opened.job_id, inspect, lambda n, total: bar.update(task, completed=n, total=total)
            )
        )
    data = {**status.as_dict(), "resumed": opened.resumed}
    emit(
        data,
        as_json,
        lambda d: (
            f"job {d['job_id']}: {d['done']} done, {d['failed']} failed "
            f"of {d['total']} ({d['status']}{', resumed' if d['resumed'] else ''})"
        ),
    )


def report(
    start: datetime = typer.Option(..., "--from", help="first day (ISO date)"),
    end: datetime = typer.Option(..., "--to", help="day after the last (ISO date)"),
    fmt: str = typer.Option("html", "--format", help="html or pdf"),
    period: str = typer.Option("day", help="day or week"),
    out: Path | None = typer.Option(None, help="file to write (default qa-report-FROM-TO.EXT)"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Daily or weekly QA report per campaign, flow and agent, as HTML or PDF with charts."""
    if fmt not in ("html", "pdf") or period not in ("day", "week"):
        raise fail("--format is html or pdf, --period is day or week", 2)
    acting_principal(Permission.QA_REPORTS, token, "qa")
    settings = get_settings()
    engine = _engine(settings)
    store = build_qa(settings, SqlEvidenceLog(engine), engine).store
    first, last = start.date(), end.date()
    zone = settings.institution_timezone
    lo, hi = day_bounds(first, last, zone)
    rep = build_report(store.results(started_from=lo, started_to=hi), first, last, period, zone)
    path = out or Path(f"qa-report-{first}-{last}.{fmt}")
    try:
        if fmt == "pdf":
            path.write_bytes(render_pdf(rep))
        else:
            path.write_text(render_html(rep), encoding="utf-8")
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit(
        {**rep.as_dict(), "file": str(path)},
        as_json,
        lambda d: (
            f"{d['file']}: {d['calls']} calls, {d['passed']} passed, average score {d['avg_score']}"
        ),
    )
