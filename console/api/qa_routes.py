"""``/api/v1/qa``: per-call QA results with every hit (speaker, offset into the recording,
phrase, rule, rules version), the live alert stream for supervisors (long polling), daily and
weekly reports as HTML or PDF, batch QA of stored recordings (start, progress), one sentence
checked against the QA rules in force (``ivr qa check``), and the rules in force summarised or
a rules text validated (``ivr qa rules``: every issue with its line, the examples self-check
included).

QA results and alerts hold what the bot or an agent said, never the caller's words or number.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, Field

from compliance.rules import RulesError
from console.api.deps import context, require
from console.api.designer_models import IssueOut
from console.api.pagination import Page, PageParams, page_params
from console.api.problems import PROBLEM_RESPONSES, ApiProblem
from console.audit import AuditKind
from console.identity import Principal
from console.permissions import Permission
from console.qa import MAX_REPORT_DAYS
from ivr.errors import StoreUnavailableError
from qa.batch import JobStatus
from qa.compiled import compile_rules, summary
from qa.rules import Speaker
from qa.store import StoredResult

router = APIRouter(prefix="/api/v1/qa", responses=PROBLEM_RESPONSES, tags=["qa"])
MAX_QA_RULES = 256 * 1024
UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {"description": "the alert stream (Redis) is unavailable"}
}


class SentenceIn(BaseModel):
    text: str = Field(min_length=1, max_length=2000, description="a sentence as spoken")
    speaker: Literal["bot", "agent"] = Field(default="agent", description="who says it")


class SentenceOut(BaseModel):
    rules_version: str
    model_version: str | None = Field(
        default=None, description="the learned second stage's (None: rules only)"
    )
    speaker: str
    flagged: bool
    hits: list[dict[str, Any]] = Field(description="category, rule, span, wording, how, severity")
    model_hits: list[dict[str, Any]] = Field(
        default_factory=list,
        description="categories the model flags where no rule did (for review; never a block)",
    )
    bot_says_instead: str | None = Field(
        default=None, description="the rules' fallback the bot would say (bot sentences)"
    )


class RuleOut(BaseModel):
    id: str
    category: str
    severity: str


class QaRulesOut(BaseModel):
    source: str
    version: str
    effective_from: str
    sha256: str
    rules: list[RuleOut]
    purposes: dict[str, list[str]] = Field(description="purpose -> mandatory statement ids")


class QaRulesText(BaseModel):
    content: str = Field(max_length=MAX_QA_RULES, description="a QA rules YAML text")


class QaRulesCheckOut(BaseModel):
    ok: bool
    issues: list[IssueOut] = Field(description="code rules: params line, field, why")
    rules: QaRulesOut | None = Field(default=None, description="the summary when ok")


class FindingOut(BaseModel):
    kind: str = Field(
        description="hit | blocked (a bot sentence stopped before synthesis, never spoken) | "
        "missing | late | incomplete | talked_over"
    )
    rule: str
    category: str
    severity: str
    speaker: str | None = Field(description="bot | agent | caller (talked over)")
    offset_ms: int | None = Field(description="offset into the recording")
    phrase: str = Field(description="what was said (hits) or what is missing")
    wording: str = Field(description="the rule's wording that matched")
    how: str
    rules_version: str


class ResultOut(BaseModel):
    result_id: str
    call_id: str
    source: str = Field(description="call (live turns) or recording (post-call ASR)")
    recording_id: str | None
    purpose: str
    campaign: str | None
    flow: str | None
    agent_id: str | None
    call_started_at: datetime
    checked_at: datetime
    score: int
    passed: bool
    rules_version: str
    findings: list[FindingOut]


class AlertOut(BaseModel):
    id: str = Field(description="stream id; ask for alerts after it")
    call_id: str
    speaker: str
    offset_ms: int
    rule: str
    category: str
    severity: str
    phrase: str
    wording: str
    rules_version: str
    heard_at: float
    raised_at: float
    campaign: str
    flow: str
    agent_id: str
    blocked: bool
    kind: str = Field(
        default="hit", description="hit (a rule matched) | model (the learned stage, for review)"
    )


class AlertsOut(BaseModel):
    available: bool = Field(description="false: no alert stream is configured (IVR_REDIS_URL)")
    alerts: list[AlertOut]
    last_id: str


class BatchStart(BaseModel):
    started_from: AwareDatetime
    started_to: AwareDatetime


class JobOut(BaseModel):
    job_id: str
    status: str = Field(description="open (running or resumable) | finished")
    running: bool
    total: int
    done: int
    failed: int
    resumed: bool
    started_from: datetime | None
    started_to: datetime | None


def _in_range(*values: date | None) -> None:
    """Times far outside any call's (year 1, year 9999) are refused, not overflowed."""
    for value in values:
        if value is not None and not 2000 <= value.year <= 2200:
            raise ApiProblem(
                422,
                "invalid_input",
                "times must lie between the years 2000 and 2200",
                code="console.time_range_years",
            )


def _result(r: StoredResult) -> ResultOut:
    data = r.as_dict()
    return ResultOut.model_validate(
        {**data, "findings": [{"rules_version": r.rules_version, **f} for f in r.findings]}
    )


def _job(request: Request, status: JobStatus) -> JobOut:
    running = context(request).qa.running(status.job_id)
    return JobOut.model_validate({**status.as_dict(), "running": running})


@router.post("/check", response_model=SentenceOut)
def check_sentence(
    body: SentenceIn, request: Request, principal: Principal = require(Permission.QA_READ)
) -> SentenceOut:
    """Check one sentence with the QA rules in force and their learned second stage, as the
    bot's gate before synthesis, live QA and the post-call result do (``ivr qa check``): rule
    hits flag it (a bot sentence is then replaced); model hits are for review only."""
    compiled = context(request).qa.runtime.holder.current
    speaker = Speaker(body.speaker)
    line = compiled.check(body.text, speaker)
    hits = line.hits
    return SentenceOut(
        rules_version=compiled.version,
        model_version=line.model_version,
        speaker=speaker.value,
        flagged=bool(hits),
        hits=[h.as_dict() for h in hits],
        model_hits=[m.as_dict() for m in line.model_hits],
        bot_says_instead=compiled.rules.bot_fallback if hits and speaker is Speaker.BOT else None,
    )


@router.get("/rules", response_model=QaRulesOut)
def qa_rules_in_force(request: Request, _p: Principal = require(Permission.QA_READ)) -> QaRulesOut:
    """The QA rules in force: version, digest, rules and mandatory statements (``ivr qa rules``)."""
    return QaRulesOut.model_validate(summary(context(request).qa.runtime.holder.current))


@router.post("/rules/check", response_model=QaRulesCheckOut)
def check_qa_rules(
    body: QaRulesText, _p: Principal = require(Permission.QA_READ)
) -> QaRulesCheckOut:
    """Validate a QA rules text as ``ivr qa rules FILE`` does (parse, compile, every rule's own
    examples); nothing is installed."""
    try:
        compiled = compile_rules(body.content, "qa-rules.yaml")
    except RulesError as exc:
        issues = [
            IssueOut(
                code="rules",
                message=f"{i.field or '(file)'}: {i.why}",
                line=i.line or 1,
                params=i.message_params(),
            )
            for i in exc.issues
        ]
        return QaRulesCheckOut(ok=False, issues=issues)
    return QaRulesCheckOut(ok=True, issues=[], rules=QaRulesOut.model_validate(summary(compiled)))


@router.get("/results")
def list_results(
    request: Request,
    started_from: AwareDatetime | None = Query(None),
    started_to: AwareDatetime | None = Query(None),
    call_id: str | None = Query(None, max_length=128),
    passed: bool | None = Query(None),
    page: PageParams = Depends(page_params),
    _: Principal = require(Permission.QA_READ),
) -> Page[ResultOut]:
    """QA results, newest call first, each with its findings."""
    _in_range(started_from, started_to)
    store = context(request).qa.store
    items = store.results(
        started_from=started_from,
        started_to=started_to,
        call_id=call_id,
        passed=passed,
        limit=page.limit,
        offset=page.offset,
        newest_first=True,
    )
    total = store.count(
        started_from=started_from, started_to=started_to, call_id=call_id, passed=passed
    )
    return Page(
        items=[_result(r) for r in items],
        total=total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/calls/{call_id}")
def call_results(
    call_id: Annotated[str, PathParam(max_length=128)],
    request: Request,
    _: Principal = require(Permission.QA_READ),
) -> list[ResultOut]:
    """Every QA result of one call (one per source); 404 when it has none."""
    found = context(request).qa.store.get(call_id)
    if not found:
        raise ApiProblem(
            404,
            "not_found",
            f"no QA result for call {call_id}",
            code="qa.no_result",
            params={"call_id": call_id},
        )
    return [_result(r) for r in found]


@router.get("/alerts", responses=UNAVAILABLE)
async def live_alerts(
    request: Request,
    after: str | None = Query(
        None,
        max_length=40,
        pattern=r"^\d{1,20}-\d{1,19}$",
        description="stream id from the last answer; absent: the newest alerts",
    ),
    wait_ms: int = Query(0, ge=0, le=10_000, description="wait this long for a new alert"),
    limit: int = Query(100, ge=1, le=500),
    _: Principal = require(Permission.QA_ALERTS),
) -> AlertsOut:
    """Live alerts (prohibited wording by the bot or an agent during a call), for polling."""
    try:
        batch = await context(request).qa.alerts(after, wait_ms, limit)
    except StoreUnavailableError as exc:
        raise ApiProblem(503, "unavailable", str(exc), code="qa.alerts_unavailable") from exc
    return AlertsOut(
        available=batch.available,
        alerts=[
            AlertOut.model_validate({"id": entry_id, **alert.to_dict()})
            for entry_id, alert in batch.alerts
        ],
        last_id=batch.last_id,
    )


@router.get(
    "/report",
    response_class=Response,
    responses={
        200: {
            "content": {"text/html": {}, "application/pdf": {}},
            "description": "the report file",
        }
    },
)
def qa_report(
    request: Request,
    start: date = Query(..., description="first local day"),
    end: date = Query(..., description="the day after the last"),
    period: Literal["day", "week"] = Query("day"),
    fmt: Literal["html", "pdf"] = Query("html", alias="format"),
    _: Principal = require(Permission.QA_REPORTS),
) -> Response:
    """The daily or weekly QA report per campaign, flow and agent, with charts."""
    _in_range(start, end)
    if not start < end or end - start > timedelta(days=MAX_REPORT_DAYS):
        raise ApiProblem(
            422,
            "invalid_input",
            f"end must be 1 to {MAX_REPORT_DAYS} days after start",
            code="qa.report_range",
            params={"max_days": MAX_REPORT_DAYS},
        )
    qa = context(request).qa
    body = qa.render(qa.report(start, end, period), fmt)
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    name = f"qa-report-{start}-{end}.{fmt}"
    return Response(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.post("/batch", status_code=202)
async def start_batch(
    body: BatchStart,
    request: Request,
    principal: Principal = require(Permission.QA_BATCH),
) -> JobOut:
    """QA every stored recording of calls started in ``[started_from, started_to)`` in the
    background; an unfinished job of the same range resumes where it stopped."""
    _in_range(body.started_from, body.started_to)
    if not body.started_from < body.started_to:
        raise ApiProblem(
            422,
            "invalid_input",
            "started_to must be after started_from",
            code="console.time_range_order",
        )
    ctx = context(request)
    status = await ctx.qa.start_batch(body.started_from, body.started_to)
    ctx.audit.record(
        AuditKind.QA_BATCH_STARTED,
        principal,
        job_id=status.job_id,
        started_from=body.started_from.isoformat(),
        started_to=body.started_to.isoformat(),
        recordings=status.total,
        resumed=status.resumed,
    )
    return _job(request, status)


@router.get("/batch")
def list_batches(request: Request, _: Principal = require(Permission.QA_BATCH)) -> list[JobOut]:
    """The newest batch jobs with their progress."""
    return [_job(request, s) for s in context(request).qa.jobs.jobs()]


@router.get("/batch/{job_id}")
def batch_progress(
    job_id: Annotated[str, PathParam(max_length=64)],
    request: Request,
    _: Principal = require(Permission.QA_BATCH),
) -> JobOut:
    status = context(request).qa.jobs.find(job_id)
    if status is None:
        raise ApiProblem(
            404, "not_found", f"no batch job {job_id}", code="qa.no_job", params={"job": job_id}
        )
    return _job(request, status)
