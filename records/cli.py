"""`ivr` commands of the records package (registered by :mod:`ivr.cli`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
