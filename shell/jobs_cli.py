"""``ivr jobs run NAME``: enqueue one background job now and wait for its result."""

from __future__ import annotations

import asyncio
from typing import Any

import typer
from taskiq.exceptions import TaskiqResultTimeoutError

from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings
from shell.jobs import JOBS, build_broker

jobs_app = typer.Typer(help="Background jobs (taskiq on Redis Streams): run one now.")


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app, name="jobs")


async def run_job(name: str, timeout_s: float) -> Any:
    broker = build_broker(get_settings())
    await broker.startup()
    try:
        task = broker.find_task(name)
        if task is None:
            raise fail(f"no job {name!r}; jobs: {', '.join(JOBS)}")
        sent = await task.kiq()
        result = await sent.wait_result(timeout=timeout_s)
        if result.is_err:
            raise fail(f"job {name} failed: {type(result.error).__name__}")
        return result.return_value
    finally:
        await broker.shutdown()


@jobs_app.command("run")
def jobs_run(
    name: str = typer.Argument(..., help=f"one of: {', '.join(JOBS)}"),
    timeout_s: float = typer.Option(600.0, "--timeout", help="seconds to wait for a worker"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Enqueue NAME for the job workers and wait for its result (a worker must be running)."""
    try:
        value = asyncio.run(run_job(name, timeout_s))
    except IvrError as exc:
        raise fail(str(exc)) from exc
    except TaskiqResultTimeoutError as exc:
        raise fail(f"no worker finished {name} within {timeout_s:.0f} s") from exc
    emit({"job": name, "result": value}, as_json, lambda d: f"{d['job']}: {d['result']}")
