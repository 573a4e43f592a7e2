"""One way for every ``ivr`` command to print: human text, or JSON with ``--json``."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any

import typer

JSON_OPTION = typer.Option(False, "--json", help="print machine-readable JSON")


def emit(data: Any, as_json: bool, human: Callable[[Any], str]) -> None:
    """Print ``data`` as JSON (sorted keys, UTF-8) or through its human formatter."""
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        sys.stdout.write(human(data).rstrip("\n") + "\n")


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one clear line on stderr and return the Exit to raise."""
    sys.stderr.write(f"error: {message}\n")
    return typer.Exit(code)
