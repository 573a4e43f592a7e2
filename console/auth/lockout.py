"""Lockout after repeated failed sign-ins (pure: every input, the clock included, is given)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """``failures`` wrong passwords in a row lock the account for ``minutes``."""

    failures: int = 5
    minutes: int = 15


@dataclass(frozen=True, slots=True)
class FailureOutcome:
    failed_logins: int
    locked_until: datetime | None
    newly_locked: bool


def is_locked(locked_until: datetime | None, now: datetime) -> bool:
    return locked_until is not None and now < locked_until


def after_failure(
    failed_logins: int, locked_until: datetime | None, now: datetime, policy: LockoutPolicy
) -> FailureOutcome:
    """The counter and lock after one more wrong password."""
    if locked_until is not None and now >= locked_until:
        failed_logins = 0  # an expired lock starts a fresh count
    count = failed_logins + 1
    if count >= policy.failures:
        return FailureOutcome(0, now + timedelta(minutes=policy.minutes), newly_locked=True)
    return FailureOutcome(count, locked_until if is_locked(locked_until, now) else None, False)
