"""UTC time helpers shared by the records adapters (SQL columns hold naive UTC)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """The current time, UTC, aware."""
    return datetime.now(UTC)


def to_db(value: datetime) -> datetime:
    """An aware time as naive UTC for a ``DateTime`` column; naive input is refused."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: give times with a timezone")
    return value.astimezone(UTC).replace(tzinfo=None)


def from_db(value: datetime) -> datetime:
    """A naive UTC column value as an aware UTC time."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def iso(value: datetime) -> str:
    """Canonical text of an aware time: UTC, microseconds, ``+00:00``."""
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def add_years(value: datetime, years: int) -> datetime:
    """``value`` plus whole calendar years; 29 February rolls to 1 March (never shorter)."""
    try:
        return value.replace(year=value.year + years)
    except ValueError:
        return value.replace(year=value.year + years, month=3, day=1)
