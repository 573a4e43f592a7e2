"""Password hashing with argon2id (argon2-cffi); a dummy verify keeps unknown users as slow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ivr.errors import Param

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


class Passwords:
    """Hash and verify passwords; ``hasher`` parameters are argon2-cffi's (RFC 9106 defaults)."""

    def __init__(self, hasher: PasswordHasher | None = None) -> None:
        self._hasher = hasher or PasswordHasher()
        self._dummy = self._hasher.hash("not-a-password-of-anyone")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True if ``password`` matches; ``stored_hash`` None (no such user) costs the same."""
        try:
            return self._hasher.verify(stored_hash or self._dummy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


@dataclass(frozen=True, slots=True)
class PasswordProblem:
    """Why a password is refused: message code, its parameters, the English text."""

    code: str
    text: str
    params: Mapping[str, Param] = field(default_factory=dict)


def password_problem(password: str) -> PasswordProblem | None:
    """Why ``password`` is not acceptable, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return PasswordProblem(
            "users.password_short",
            f"a password has at least {MIN_PASSWORD_LENGTH} characters",
            {"min": MIN_PASSWORD_LENGTH},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        return PasswordProblem(
            "users.password_long",
            f"a password has at most {MAX_PASSWORD_LENGTH} characters",
            {"max": MAX_PASSWORD_LENGTH},
        )
    if password.strip() != password or not password.strip():
        return PasswordProblem(
            "users.password_spaces", "a password may not start or end with spaces"
        )
    return None
