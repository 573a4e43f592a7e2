"""A settable clock for code that takes its clock as an argument (aware UTC datetimes)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta


@dataclass
class FakeClock:
    """Returns :attr:`now`; tests set it or :meth:`advance` it."""

    now: datetime = field(default_factory=lambda: datetime(2026, 12, 1, 2, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        """Move the clock on by ``timedelta(**kwargs)``."""
        self.now += timedelta(**kwargs)
