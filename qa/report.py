"""QA reports (pure aggregation): per period (day or week), per campaign, flow and agent.

:func:`build_report` turns stored results (:class:`qa.store.StoredResult`) into a
:class:`Report`: totals, findings per category, average score and pass rate per period, and one
table each per campaign, flow and agent. Rendering to HTML and PDF with charts is
:mod:`qa.render`.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from qa.store import StoredResult


@dataclass(frozen=True, slots=True)
class Row:
    key: str
    calls: int
    avg_score: float
    pass_rate: float
    findings: int

    def as_dict(self) -> dict[str, object]:
        return {
            "key": self.key,
            "calls": self.calls,
            "avg_score": round(self.avg_score, 1),
            "pass_rate": round(self.pass_rate, 3),
            "findings": self.findings,
        }


@dataclass(frozen=True, slots=True)
class Report:
    title: str
    period: str  # "day" | "week"
    start: date
    end: date  # exclusive
    calls: int
    passed: int
    avg_score: float
    by_category: dict[str, int]
    by_rule: dict[str, int]
    by_period: tuple[Row, ...]
    by_campaign: tuple[Row, ...]
    by_flow: tuple[Row, ...]
    by_agent: tuple[Row, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "title": self.title,
            "period": self.period,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "calls": self.calls,
            "passed": self.passed,
            "avg_score": round(self.avg_score, 1),
            "by_category": self.by_category,
            "by_rule": self.by_rule,
            "by_period": [r.as_dict() for r in self.by_period],
            "by_campaign": [r.as_dict() for r in self.by_campaign],
            "by_flow": [r.as_dict() for r in self.by_flow],
            "by_agent": [r.as_dict() for r in self.by_agent],
        }


def period_key(day: date, period: str) -> str:
    if period == "week":
        monday = day - timedelta(days=day.weekday())
        year, week, _ = monday.isocalendar()
        return f"{year}-W{week:02d}"
    return day.isoformat()


def _rows(groups: dict[str, list[StoredResult]]) -> tuple[Row, ...]:
    out = []
    for key in sorted(groups):
        items = groups[key]
        out.append(
            Row(
                key,
                len(items),
                sum(r.score for r in items) / len(items),
                sum(r.passed for r in items) / len(items),
                sum(len(r.findings) for r in items),
            )
        )
    return tuple(out)


def _one_per_call(results: Iterable[StoredResult]) -> list[StoredResult]:
    """A call checked from the recording and from its turns counts once (the recording wins:
    it is what the customer heard)."""
    best: dict[str, StoredResult] = {}
    for r in results:
        if r.call_id not in best or r.source == "recording":
            best[r.call_id] = r
    return list(best.values())


def build_report(
    results: Sequence[StoredResult],
    start: date,
    end: date,
    period: str = "day",
    zone: str = "Asia/Shanghai",
) -> Report:
    """Aggregate results of calls that started in ``[start, end)`` (local days in ``zone``)."""
    if period not in ("day", "week"):
        raise ValueError("period must be 'day' or 'week'")
    tz = ZoneInfo(zone)
    calls = [
        r for r in _one_per_call(results) if start <= r.call_started_at.astimezone(tz).date() < end
    ]
    by_period: dict[str, list[StoredResult]] = defaultdict(list)
    by_campaign: dict[str, list[StoredResult]] = defaultdict(list)
    by_flow: dict[str, list[StoredResult]] = defaultdict(list)
    by_agent: dict[str, list[StoredResult]] = defaultdict(list)
    categories: Counter[str] = Counter()
    rules: Counter[str] = Counter()
    for r in calls:
        by_period[period_key(r.call_started_at.astimezone(tz).date(), period)].append(r)
        by_campaign[r.campaign or "(none)"].append(r)
        by_flow[r.flow or "(none)"].append(r)
        by_agent[r.agent_id or "(none)"].append(r)
        for f in r.findings:
            categories[str(f["category"])] += 1
            rules[str(f["rule"])] += 1
    n = len(calls)
    title = f"质检{'日' if period == 'day' else '周'}报 QA {period} report {start} – {end}"
    return Report(
        title,
        period,
        start,
        end,
        n,
        sum(r.passed for r in calls),
        (sum(r.score for r in calls) / n) if n else 0.0,
        dict(categories.most_common()),
        dict(rules.most_common()),
        _rows(by_period),
        _rows(by_campaign),
        _rows(by_flow),
        _rows(by_agent),
    )


def day_bounds(start: date, end: date, zone: str = "Asia/Shanghai") -> tuple[datetime, datetime]:
    """``[start, end)`` local days as aware datetimes (for the store query)."""
    tz = ZoneInfo(zone)
    return (
        datetime(start.year, start.month, start.day, tzinfo=tz),
        datetime(end.year, end.month, end.day, tzinfo=tz),
    )
