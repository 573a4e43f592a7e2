"""Console users in SQL (``auth_users``): the repository. No passwords in clear, ever."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from console.permissions import Role
from console.tables import auth_users
from ivr.errors import IvrError


class UserError(IvrError):
    """A user operation that cannot be done (unknown user, duplicate name, bad value)."""

    code = "users.invalid"


class UserExistsError(UserError):
    """A user (or OS-user mapping) with that name exists."""

    code = "users.exists"


class UnknownUserError(UserError):
    """No user with that name or id."""

    code = "users.unknown"


@dataclass(frozen=True, slots=True)
class User:
    id: str
    username: str
    display_name: str
    role: Role
    password_hash: str
    os_user: str | None
    disabled: bool
    failed_logins: int
    locked_until: datetime | None
    token_version: int
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """What any API shows of a user (no hash)."""
        return {
            "id": self.id,
            "username": self.username,
            "display_name": self.display_name,
            "role": self.role.value,
            "os_user": self.os_user,
            "disabled": self.disabled,
            "locked_until": self.locked_until,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


def _aware(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)  # SQLite returns naive UTC
    return value


def _user(row: sa.RowMapping) -> User:
    created = _aware(row["created_at"])
    updated = _aware(row["updated_at"])
    assert created is not None and updated is not None
    return User(
        id=row["id"],
        username=row["username"],
        display_name=row["display_name"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        os_user=row["os_user"],
        disabled=bool(row["disabled"]),
        failed_logins=int(row["failed_logins"]),
        locked_until=_aware(row["locked_until"]),
        token_version=int(row["token_version"]),
        created_at=created,
        updated_at=updated,
    )


class UserRepository:
    """Reads and writes ``auth_users``. Writers take a connection so a change and its evidence
    commit in one transaction (``console.audit.Audit.transaction``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def by_username(self, username: str) -> User | None:
        return self._one(auth_users.c.username == username)

    def by_id(self, user_id: str) -> User | None:
        return self._one(auth_users.c.id == user_id)

    def by_os_user(self, os_user: str) -> User | None:
        return self._one(auth_users.c.os_user == os_user)

    def _one(self, where: sa.ColumnElement[bool]) -> User | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(auth_users).where(where)).mappings().first()
        return _user(row) if row else None

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(auth_users)).scalar_one()
            )

    def page(self, limit: int, offset: int) -> tuple[list[User], int]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(auth_users).order_by(auth_users.c.username).limit(limit).offset(offset)
            ).mappings()
            users = [_user(r) for r in rows]
            total = conn.execute(sa.select(sa.func.count()).select_from(auth_users)).scalar_one()
        return users, int(total)

    def insert(
        self,
        conn: Connection,
        *,
        username: str,
        display_name: str,
        role: Role,
        password_hash: str,
        os_user: str | None,
        now: datetime,
    ) -> User:
        user_id = str(uuid.uuid4())
        try:
            conn.execute(
                auth_users.insert().values(
                    id=user_id,
                    username=username,
                    display_name=display_name,
                    role=role.value,
                    password_hash=password_hash,
                    os_user=os_user,
                    disabled=False,
                    failed_logins=0,
                    locked_until=None,
                    token_version=1,
                    created_at=now,
                    updated_at=now,
                )
            )
        except SqlIntegrityError as exc:
            raise UserExistsError(
                f"a user named {username!r} (or mapped to that OS user) exists",
                code="users.exists_named",
                params={"user": username},
            ) from exc
        row = conn.execute(sa.select(auth_users).where(auth_users.c.id == user_id)).mappings().one()
        return _user(row)

    def update(
        self, conn: Connection, user_id: str, now: datetime, *, bump_tokens: bool, **values: Any
    ) -> User:
        """Change columns of one user; ``bump_tokens`` invalidates every token and session."""
        stmt = (
            auth_users.update().where(auth_users.c.id == user_id).values(updated_at=now, **values)
        )
        if bump_tokens:
            stmt = stmt.values(token_version=auth_users.c.token_version + 1)
        try:
            result = conn.execute(stmt)
        except SqlIntegrityError as exc:
            raise UserExistsError(
                "that OS user is mapped to another user", code="users.os_user_taken"
            ) from exc
        if result.rowcount != 1:
            raise UnknownUserError(f"no user {user_id}")
        row = conn.execute(sa.select(auth_users).where(auth_users.c.id == user_id)).mappings().one()
        return _user(row)
