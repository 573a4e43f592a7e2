"""Speech engines usable here, for `ivr doctor`."""

from __future__ import annotations

from dataclasses import dataclass

from ivr.settings import Settings


@dataclass(frozen=True, slots=True)
class EngineCheck:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def doctor_checks(settings: Settings) -> list[EngineCheck]:
    return []
