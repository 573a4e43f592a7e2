"""API access tokens (JWT, HS256, PyJWT) and opaque secrets for sessions and refresh tokens.

Pure given the clock: expiry is checked against the ``now`` passed in, not the wall clock.
Only SHA-256 digests of opaque secrets are stored.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from ivr.errors import IvrError

ISSUER = "ivr-console"
ALGORITHM = "HS256"


class TokenError(IvrError):
    """A token that is malformed, forged, expired or of the wrong type."""


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: str
    role: str
    token_version: int
    expires_at: datetime
    token_id: str


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AccessTokens:
    """Issue and verify short-lived access tokens signed with ``key``."""

    def __init__(self, key: bytes, ttl: timedelta) -> None:
        if len(key) < 32:
            raise ValueError("the access-token key needs at least 32 bytes")
        self._key = key
        self.ttl = ttl

    def issue(self, user_id: str, role: str, token_version: int, now: datetime) -> str:
        claims = {
            "iss": ISSUER,
            "sub": user_id,
            "role": role,
            "ver": token_version,
            "typ": "access",
            "iat": int(now.timestamp()),
            "exp": int((now + self.ttl).timestamp()),
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)

    def verify(self, token: str, now: datetime) -> AccessClaims:
        try:
            claims = jwt.decode(
                token,
                self._key,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"verify_exp": False, "require": ["exp", "sub", "iss", "ver", "typ"]},
            )
        except jwt.PyJWTError as exc:
            raise TokenError(f"invalid token: {type(exc).__name__}") from exc
        if claims.get("typ") != "access":
            raise TokenError("not an access token")
        exp = claims["exp"]
        if not isinstance(exp, int) or now.timestamp() >= exp:
            raise TokenError("token expired")
        return AccessClaims(
            user_id=str(claims["sub"]),
            role=str(claims.get("role", "")),
            token_version=int(claims["ver"]),
            expires_at=datetime.fromtimestamp(exp, tz=now.tzinfo),
            token_id=str(claims.get("jti", "")),
        )
