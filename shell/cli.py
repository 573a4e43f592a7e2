"""The ``ivr`` operator CLI (Typer): one entry point; each package registers its commands."""

from __future__ import annotations

import typer

import compliance.cli
import console.cli
import flows.cli
import qa.cli
import records.cli
import speech.cli
import telephony.cli
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings
from shell import doctor as doctor_mod
from shell import jobs_cli, rasa_model, supervisor

app = typer.Typer(
    name="ivr",
    help="Compliance-first AI voice bot and IVR: operator commands.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command()
def doctor(as_json: bool = JSON_OPTION) -> None:
    """Check every dependency and say how to fix what is wrong."""
    results = doctor_mod.run_checks(get_settings())
    emit([r.as_dict() for r in results], as_json, lambda _: doctor_mod.format_results(results))
    if any(r.status == "FAIL" for r in results):
        raise typer.Exit(1)


@app.command()
def train(
    force: bool = typer.Option(False, help="train even if a model for this data exists"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Train the Rasa model if config, domain or training data changed."""
    try:
        result = rasa_model.ensure_model(force=force)
    except rasa_model.TrainingError as exc:
        raise fail(str(exc)) from exc
    emit(
        result.as_dict(),
        as_json,
        lambda d: f"model {d['path']} ({'trained' if d['trained'] else 'cached'})",
    )


@app.command()
def run() -> None:
    """Start Rasa, the action server, the ESL server and the web console; Ctrl-C stops all."""
    code = supervisor.run_all(get_settings())
    raise typer.Exit(code)


for _package in (
    compliance.cli,
    records.cli,
    telephony.cli,
    flows.cli,
    speech.cli,
    console.cli,
    qa.cli,
    jobs_cli,
):
    _package.register(app)
