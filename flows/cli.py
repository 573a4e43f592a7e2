"""``ivr flows validate|schema``: check flow files, export the JSON Schema for editors."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from flows.model import Flow
from flows.registry import DEFAULT_FLOWS_DIR, validate_path
from ivr.output import JSON_OPTION, emit

flows_app = typer.Typer(help="IVR flows: validate, export the schema.", no_args_is_help=True)
SCHEMA_FILE = DEFAULT_FLOWS_DIR / "flow.schema.json"


def flow_json_schema() -> dict[str, object]:
    schema = Flow.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "IVR flow"
    return schema


@flows_app.command("validate")
def validate(
    path: Path = typer.Argument(DEFAULT_FLOWS_DIR, help="a flow file or a folder of flows"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Schema, graph and compliance checks (disclosure first, consent before marketing)."""
    reports = validate_path(path)
    data = [
        {
            "file": r.file,
            "flow": r.flow.flow if r.flow else None,
            "ok": r.ok,
            "issues": [i.as_dict() for i in r.issues],
        }
        for r in reports
    ]

    def human(_: object) -> str:
        lines = []
        for report in reports:
            if report.ok:
                lines.append(f"OK    {report.file}")
            for issue in report.issues:
                lines.append(f"ERROR {issue}")
        return "\n".join(lines)

    emit(data, as_json, human)
    if not all(r.ok for r in reports):
        raise typer.Exit(1)


@flows_app.command("schema")
def schema(
    out: Path = typer.Option(SCHEMA_FILE, help="where to write the JSON Schema"),
) -> None:
    """Write the flow JSON Schema (for editors and the web designer)."""
    out.write_text(json.dumps(flow_json_schema(), ensure_ascii=False, indent=2) + "\n")
    typer.echo(f"wrote {out}")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    from flows.call_cli import call

    app.add_typer(flows_app, name="flows")
    app.command(
        "call", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
    )(call)
