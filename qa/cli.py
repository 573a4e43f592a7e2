"""`ivr qa ...` commands (registered by :mod:`shell.cli`); every command takes ``--json``.

``ivr qa check TEXT`` (one sentence through the matcher, then the learned second stage),
``ivr qa rules [PATH]`` (validate and summarise a rules file), ``ivr qa call ID``,
``ivr qa batch --from --to`` and
``ivr qa report --from --to --format html|pdf`` (:mod:`qa.cli_jobs`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from compliance.rules import RulesError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings
from qa.compiled import CompiledRules, summary
from qa.model import ModelError, configured_model
from qa.reload import load_rules_file
from qa.rules import Speaker

qa_app = typer.Typer(help="Quality inspection of bot and agent speech.", no_args_is_help=True)
_RULES_OPTION = typer.Option(None, "--rules", help="QA rules file (default: IVR_QA_RULES_PATH)")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    from qa import cli_jobs  # vault, SQL, ASR and report commands

    cli_jobs.register(qa_app)
    app.add_typer(qa_app, name="qa")


def rules_or_exit(path: Path | None) -> CompiledRules:
    """The QA rules at ``path`` (default from settings), or one clear error and exit 1."""
    settings = get_settings()
    try:
        return load_rules_file(path or settings.qa_rules_path, configured_model(settings))
    except ModelError as exc:
        raise fail(str(exc)) from exc
    except RulesError as exc:
        raise fail("QA rules invalid:\n" + "\n".join(str(i) for i in exc.issues)) from exc


@qa_app.command("check")
def check(
    text: str = typer.Argument(..., help="a sentence as spoken or transcribed"),
    speaker: Speaker = typer.Option(Speaker.AGENT, help="who said it"),
    rules: Path | None = _RULES_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Check one sentence for prohibited wording (what the bot gate and live QA do)."""
    compiled = rules_or_exit(rules)
    line = compiled.check(text, speaker)
    hits = line.hits
    data: dict[str, Any] = {
        "rules_version": compiled.version,
        "model_version": line.model_version,
        "speaker": speaker.value,
        "flagged": bool(hits),
        "hits": [h.as_dict() for h in hits],
        "model_hits": [m.as_dict() for m in line.model_hits],
    }
    if speaker is Speaker.BOT and hits:
        data["bot_says_instead"] = compiled.rules.bot_fallback
    emit(data, as_json, _format_check)


def _format_check(data: dict[str, Any]) -> str:
    review = [
        f"  for review: {m['category']:<22} model {m['model_version']} score {m['score']:.3f}"
        for m in data["model_hits"]
    ]
    if not data["flagged"]:
        return "\n".join([f"clean (rules {data['rules_version']})", *review])
    lines = [f"FLAGGED (rules {data['rules_version']}):"]
    for h in data["hits"]:
        lines.append(
            f"  {h['category']:<22} {h['rule']:<20} [{h['start']}:{h['end']}] "
            f"{h['said']!r} ~ {h['wording']!r} ({h['how']}, {h['severity']})"
        )
    if "bot_says_instead" in data:
        lines.append(f"  the bot would say instead: {data['bot_says_instead']}")
    return "\n".join(lines + review)


@qa_app.command("rules")
def rules_cmd(
    path: Path | None = typer.Argument(None, help="rules file (default: IVR_QA_RULES_PATH)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate a QA rules file (file:line errors) and summarise it."""
    data = summary(rules_or_exit(path))
    emit(
        data,
        as_json,
        lambda d: (
            f"{d['source']}: valid, version {d['version']}, {len(d['rules'])} rules, "
            f"purposes {', '.join(d['purposes'])}"
        ),
    )
