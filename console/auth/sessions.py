"""Browser sessions and API refresh tokens (``auth_sessions``); only secret digests are stored.

A refresh token is used once: refreshing revokes it and issues the next one in the same family;
presenting a revoked one again (a stolen copy) revokes the whole family.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

import sqlalchemy as sa
from sqlalchemy import Engine

from console.auth.tokens import digest, new_secret
from console.tables import auth_sessions

Kind = Literal["browser", "refresh"]


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: str
    user_id: str
    kind: str
    csrf_digest: str | None
    family: str
    token_version: int
    expires_at: datetime
    revoked: bool


@dataclass(frozen=True, slots=True)
class NewSession:
    id: str
    secret: str
    csrf: str | None
    expires_at: datetime


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


class SessionRepository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(
        self,
        user_id: str,
        kind: Kind,
        token_version: int,
        ttl: timedelta,
        now: datetime,
        *,
        family: str | None = None,
    ) -> NewSession:
        secret = new_secret()
        csrf = new_secret() if kind == "browser" else None
        session_id = str(uuid.uuid4())
        expires = now + ttl
        with self.engine.begin() as conn:
            conn.execute(
                auth_sessions.insert().values(
                    id=session_id,
                    user_id=user_id,
                    kind=kind,
                    secret_digest=digest(secret),
                    csrf_digest=digest(csrf) if csrf else None,
                    family=family or session_id,
                    token_version=token_version,
                    created_at=now,
                    expires_at=expires,
                    revoked_at=None,
                )
            )
        return NewSession(session_id, secret, csrf, expires)

    def find(self, secret: str, kind: Kind) -> SessionRow | None:
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(auth_sessions).where(
                        auth_sessions.c.secret_digest == digest(secret),
                        auth_sessions.c.kind == kind,
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        return SessionRow(
            id=row["id"],
            user_id=row["user_id"],
            kind=row["kind"],
            csrf_digest=row["csrf_digest"],
            family=row["family"],
            token_version=int(row["token_version"]),
            expires_at=_aware(row["expires_at"]),
            revoked=row["revoked_at"] is not None,
        )

    def revoke(self, session_id: str, now: datetime) -> bool:
        """Revoke one session; False if it was already revoked (used twice)."""
        with self.engine.begin() as conn:
            result = conn.execute(
                auth_sessions.update()
                .where(auth_sessions.c.id == session_id, auth_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
        return result.rowcount == 1

    def revoke_family(self, family: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                auth_sessions.update()
                .where(auth_sessions.c.family == family, auth_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
