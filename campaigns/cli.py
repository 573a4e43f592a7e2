"""``ivr campaign create|import|start|pause|resume|stop|status|list|export|run|demo``.

Every command takes ``--json``. Commands that change a campaign authenticate
(``--token``/``IVR_TOKEN`` or the mapped OS user) and need ``campaigns.manage``; ``status``,
``list`` and ``export`` need ``campaigns.read``. ``import`` shows a progress bar (rich) and the
per-row errors; ``export`` writes CSV with masked numbers only. ``run`` is the dialler process
(``make run`` starts it); ``demo`` runs a campaign end to end against the simulator in a
private sandbox (:mod:`campaigns.demo`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from campaigns.importer import ListImporter
from campaigns.model import CampaignError, DailyWindow, PacingMode, RetryPolicy
from campaigns.service import CampaignDesk
from campaigns.spec import CampaignSpec
from compliance.reload import load_rules_file
from console.cli import TOKEN_OPTION, acting_principal
from console.permissions import Permission
from flows.registry import FlowRegistry
from ivr.db import make_engine, migrate
from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings
from records.sealed_number import NumberSealer

T = TypeVar("T")
campaign_app = typer.Typer(help="Outbound campaigns and the dialler.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(campaign_app, name="campaign")


def now() -> datetime:
    return datetime.now(UTC)


def _desk() -> CampaignDesk:
    settings = get_settings()
    migrate(settings.sqlalchemy_url)
    engine = make_engine(settings.sqlalchemy_url)
    return CampaignDesk(
        engine,
        ListImporter(engine, NumberSealer.from_settings(settings)),
        lambda: FlowRegistry(settings.flows_dir),
        lambda: load_rules_file(settings.rules_path).rules,
        ZoneInfo(settings.institution_timezone),
    )


def _do(body: Callable[[], T]) -> T:
    try:
        return body()
    except CampaignError as exc:
        raise fail(str(exc), 2) from exc
    except IvrError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc


def _show(data: dict[str, Any]) -> str:
    counts = data.get("counts") or {}
    lines = [f"{data['name']} ({data['id']}): {data['state']}, flow {data['flow']}, "
             f"purpose {data['purpose']}"]  # fmt: skip
    if "contacts" in data:
        lines.append(f"  list: {data['contacts']} numbers; next due {data.get('next_due')}")
    for key in sorted(counts):
        lines.append(f"  {key}: {counts[key]}")
    return "\n".join(lines)


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(f"not a date (YYYY-MM-DD): {text!r}", 2) from None


def _retry(items: list[str]) -> RetryPolicy:
    if not items:
        return RetryPolicy()
    data: dict[str, dict[str, int]] = {}
    for item in items:
        outcome, _, rest = item.partition("=")
        delay, _, count = rest.partition(":")
        if not delay.isdigit() or not count.isdigit():
            raise fail(f"--retry {item!r}: expected outcome=DELAY_S:COUNT (busy=600:2)", 2)
        data[outcome.strip()] = {"delay_s": int(delay), "count": int(count)}
    return _do(lambda: RetryPolicy.from_dict(data))


@campaign_app.command("create")
def create(
    name: str,
    flow: str = typer.Option(..., help="outbound flow id"),
    purpose: str = typer.Option(..., help="rules purpose: marketing, service, collection..."),
    caller_id: list[str] = typer.Option(..., "--caller-id", help="caller ID pool (repeat)"),
    window: list[str] = typer.Option(["09:00-21:00"], help="daily window, callee local"),
    start_date: str | None = typer.Option(None, help="YYYY-MM-DD"),
    end_date: str | None = typer.Option(None, help="YYYY-MM-DD"),
    flow_version: str | None = typer.Option(None),
    max_attempts: int = typer.Option(3),
    retry: list[str] = typer.Option([], help="outcome=DELAY_S:COUNT (busy, no_answer, failed)"),
    concurrency: int = typer.Option(10),
    cps: float = typer.Option(5.0),
    pacing: PacingMode = typer.Option(PacingMode.BOT),
    priority: int = typer.Option(5),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a campaign (draft)."""
    who = acting_principal(Permission.CAMPAIGNS_MANAGE, token, f"campaign:{name}")
    spec = _do(
        lambda: CampaignSpec(
            name=name,
            flow_id=flow,
            flow_version=flow_version,
            purpose=purpose,
            caller_ids=tuple(caller_id),
            windows=tuple(DailyWindow.parse(w) for w in window),
            start_date=_date(start_date),
            end_date=_date(end_date),
            max_attempts=max_attempts,
            retry=_retry(retry),
            max_concurrency=concurrency,
            max_cps=cps,
            pacing=pacing,
            priority=priority,
        )
    )
    camp = _do(lambda: _desk().create(spec, actor=who.username, now=now()))
    emit(camp.as_dict(), as_json, _show)


@campaign_app.command("import")
def import_list(
    campaign: str,
    path: Path,
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Import a CSV or XLSX list (number, name, timezone, the flow's placeholders)."""
    acting_principal(Permission.CAMPAIGNS_MANAGE, token, f"campaign:{campaign}")
    desk = _desk()
    with Progress(
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=as_json,
        disable=as_json,
    ) as bar:
        task = bar.add_task("rows", total=None)
        result = _do(
            lambda: desk.import_list(
                campaign, path, now=now(), progress=lambda n: bar.update(task, completed=n)
            )
        )
    data = result.as_dict()

    def human(d: dict[str, Any]) -> str:
        head = (
            f"{d['rows']} rows: {d['accepted']} added, {d['merged']} duplicates merged, "
            f"{len(d['errors'])} errors" + (" (file imported before: nothing written)"
                                             if d["repeated"] else "")
        )  # fmt: skip
        errs = [f"  row {e['row']} {e['column']}: {e['why']}" for e in d["errors"][:50]]
        return "\n".join([head, *errs])

    emit(data, as_json, human)


def _action(action: str) -> Callable[..., None]:
    def command(
        campaign: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION
    ) -> None:
        acting_principal(Permission.CAMPAIGNS_MANAGE, token, f"campaign:{campaign}")
        camp = _do(lambda: _desk().act(campaign, action, now=now()))
        emit(camp.as_dict(), as_json, _show)

    command.__doc__ = f"{action.capitalize()} a campaign."
    return command


for _name in ("start", "pause", "resume", "stop"):
    campaign_app.command(_name)(_action(_name))


@campaign_app.command("status")
def status(campaign: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """State, list size and attempts per state and disposition."""
    acting_principal(Permission.CAMPAIGNS_READ, token, f"campaign:{campaign}")
    emit(_do(lambda: _desk().status(campaign)).as_dict(), as_json, _show)


@campaign_app.command("list")
def list_campaigns(token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Every campaign."""
    acting_principal(Permission.CAMPAIGNS_READ, token, "campaigns")
    data = [c.as_dict() for c in _do(lambda: _desk().repo.all())]
    emit(data, as_json, lambda d: "\n".join(_show(c) for c in d) or "no campaigns")


@campaign_app.command("export")
def export(
    campaign: str,
    out: Path | None = typer.Option(None, "--out", help="CSV file (default: stdout)"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Results as CSV, masked numbers only."""
    acting_principal(Permission.CAMPAIGNS_READ, token, f"campaign:{campaign}")
    desk = _desk()
    if as_json:
        rows = _do(lambda: list(desk.export_rows(campaign)))
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    text = _do(lambda: desk.export_csv(campaign))
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}")


@campaign_app.command("run")
def run() -> None:
    """The dialler process (``make run`` starts it): dials running campaigns until stopped."""
    from campaigns.app import serve

    try:
        asyncio.run(serve(get_settings()))
    except IvrError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc


@campaign_app.command("demo")
def demo(
    numbers: int = typer.Option(200, min=1, max=5000, help="list size"),
    seed: int = typer.Option(14),
    as_json: bool = JSON_OPTION,
) -> None:
    """A campaign end to end against the simulator, in a throwaway sandbox; prints the result."""
    from campaigns.demo import run_demo

    result = asyncio.run(run_demo(numbers, seed=seed)).as_dict()

    def human(d: dict[str, Any]) -> str:
        lines = [
            f"{d['numbers']} numbers, {d['originates']} originates in {d['wall_s']} s "
            f"({d['calls_per_s']} calls/s)",
            *(f"  {k}: {v}" for k, v in sorted(d["dispositions"].items())),
            f"independent audit of the switch's originate log: {len(d['violations'])} violations",
            *(f"  {v}" for v in d["violations"]),
        ]
        return "\n".join(lines)

    emit(result, as_json, human)
