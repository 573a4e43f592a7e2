"""Sign-in and user administration: one service used by the API, the CLI and the first start.

Wrong passwords count towards a lockout (``IVR_CONSOLE_LOCKOUT_*``); a sign-in, a failure and a
lock are evidence, and so is every user or role change, with its actor. Changing a password, a
role or disabling a user bumps the user's token version, which ends every session and token.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from sqlalchemy import Engine

from console.audit import Audit, AuditKind
from console.auth.keys import access_token_key
from console.auth.lockout import LockoutPolicy, after_failure, is_locked
from console.auth.passwords import Passwords, password_problem
from console.auth.sessions import NewSession, SessionRepository
from console.auth.tokens import AccessTokens, TokenError
from console.auth.users import UnknownUserError, User, UserError, UserRepository
from console.identity import NotAuthenticatedError, Principal, Via
from console.permissions import Role
from ivr.db import make_engine
from ivr.errors import IvrError
from ivr.settings import Settings
from records.evidence_store import SqlEvidenceLog

SYSTEM_ACTOR = {"actor": "system", "actor_id": "system", "actor_role": "system"}


class SignInError(IvrError):
    """Wrong user name or password, a locked or disabled account: one message for all."""

    code = "auth.sign_in_failed"

    def __init__(self, reason: str) -> None:
        super().__init__("sign-in failed: wrong user name or password, or account locked")
        self.reason = reason  # for evidence and tests, never shown to the caller


@dataclass(frozen=True, slots=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class AuthConfig:
    access_ttl: timedelta = timedelta(minutes=15)
    refresh_ttl: timedelta = timedelta(days=7)
    session_ttl: timedelta = timedelta(hours=12)
    lockout: LockoutPolicy = field(default_factory=LockoutPolicy)


def utc_now() -> datetime:
    return datetime.now(UTC)


class AuthService:
    def __init__(
        self,
        users: UserRepository,
        sessions: SessionRepository,
        passwords: Passwords,
        tokens: AccessTokens,
        audit: Audit,
        config: AuthConfig,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.users = users
        self.sessions = sessions
        self.passwords = passwords
        self.tokens = tokens
        self.audit = audit
        self.config = config
        self.clock = clock

    # -- signing in -----------------------------------------------------------------------

    def authenticate(self, username: str, password: str) -> User:
        """The user if the password is right and the account usable; else :class:`SignInError`."""
        now = self.clock()
        user = self.users.by_username(username)
        ok = self.passwords.verify(user.password_hash if user else None, password)
        who = {"actor": username[:64], "actor_id": user.id if user else "", "actor_role": ""}
        if user is None:
            self.audit.record(AuditKind.SIGN_IN_FAILED, who, reason="unknown_user")
            raise SignInError("unknown_user")
        who["actor_role"] = user.role.value
        if user.disabled:
            self.audit.record(AuditKind.SIGN_IN_FAILED, who, reason="disabled")
            raise SignInError("disabled")
        if is_locked(user.locked_until, now):
            self.audit.record(AuditKind.SIGN_IN_FAILED, who, reason="locked")
            raise SignInError("locked")
        if not ok:
            outcome = after_failure(user.failed_logins, user.locked_until, now, self.config.lockout)
            with self.audit.transaction() as conn:
                if outcome.newly_locked:
                    self.audit.record_in(
                        conn,
                        AuditKind.ACCOUNT_LOCKED,
                        who,
                        locked_until=outcome.locked_until.isoformat()
                        if outcome.locked_until
                        else None,
                        failures=self.config.lockout.failures,
                    )
                else:
                    self.audit.record_in(
                        conn, AuditKind.SIGN_IN_FAILED, who, reason="wrong_password"
                    )
                self.users.update(
                    conn,
                    user.id,
                    now,
                    bump_tokens=False,
                    failed_logins=outcome.failed_logins,
                    locked_until=outcome.locked_until,
                )
            raise SignInError("locked_now" if outcome.newly_locked else "wrong_password")
        with self.audit.transaction() as conn:
            self.audit.record_in(conn, AuditKind.SIGNED_IN, who)
            values: dict[str, object] = {"failed_logins": 0, "locked_until": None}
            if self.passwords.needs_rehash(user.password_hash):
                values["password_hash"] = self.passwords.hash(password)
            user = self.users.update(conn, user.id, now, bump_tokens=False, **values)
        return user

    def open_browser_session(self, user: User) -> NewSession:
        return self.sessions.create(
            user.id, "browser", user.token_version, self.config.session_ttl, self.clock()
        )

    def principal_from_session(self, secret: str) -> tuple[Principal, str | None]:
        """The principal of a browser session cookie and its CSRF digest."""
        row = self.sessions.find(secret, "browser")
        if row is None or row.revoked or self.clock() >= row.expires_at:
            raise NotAuthenticatedError("no valid session")
        principal = self._principal(row.user_id, row.token_version, "session", row.id)
        return principal, row.csrf_digest

    def close_session(self, session_id: str) -> None:
        self.sessions.revoke(session_id, self.clock())

    def issue_tokens(self, user: User) -> TokenPair:
        now = self.clock()
        refresh = self.sessions.create(
            user.id, "refresh", user.token_version, self.config.refresh_ttl, now
        )
        return self._pair(user, refresh.secret, now)

    def refresh(self, refresh_token: str) -> TokenPair:
        """Rotate a refresh token; a reused (revoked) one revokes its whole family."""
        now = self.clock()
        row = self.sessions.find(refresh_token, "refresh")
        if row is None or now >= row.expires_at:
            raise NotAuthenticatedError("invalid refresh token")
        if row.revoked or not self.sessions.revoke(row.id, now):
            self.sessions.revoke_family(row.family, now)
            raise NotAuthenticatedError("refresh token reused: every token of it is revoked")
        user = self.users.by_id(row.user_id)
        if user is None or user.disabled or user.token_version != row.token_version:
            raise NotAuthenticatedError("invalid refresh token")
        nxt = self.sessions.create(
            user.id, "refresh", user.token_version, self.config.refresh_ttl, now, family=row.family
        )
        return self._pair(user, nxt.secret, now)

    def _pair(self, user: User, refresh_secret: str, now: datetime) -> TokenPair:
        access = self.tokens.issue(user.id, user.role.value, user.token_version, now)
        return TokenPair(access, refresh_secret, int(self.tokens.ttl.total_seconds()))

    def principal_from_access_token(
        self, token: str, now: datetime, via: Via = "token"
    ) -> Principal:
        try:
            claims = self.tokens.verify(token, now)
        except TokenError as exc:
            raise NotAuthenticatedError(str(exc)) from exc
        return self._principal(claims.user_id, claims.token_version, via, None)

    def principal_from_os_user(self, os_user: str) -> Principal | None:
        user = self.users.by_os_user(os_user)
        if user is None or user.disabled:
            return None
        return Principal(user.id, user.username, user.role, "os_user")

    def _principal(self, user_id: str, token_version: int, via: Via, sid: str | None) -> Principal:
        user = self.users.by_id(user_id)
        if user is None or user.disabled or user.token_version != token_version:
            raise NotAuthenticatedError("session or token no longer valid")
        return Principal(user.id, user.username, user.role, via, sid)

    # -- administration -------------------------------------------------------------------

    def add_user(
        self,
        actor: Principal | None,
        username: str,
        role: Role,
        password: str,
        *,
        display_name: str | None = None,
        os_user: str | None = None,
    ) -> User:
        problem = password_problem(password)
        if problem:
            raise UserError(problem.text, code=problem.code, params=problem.params)
        if (
            not username
            or len(username) > 64
            or not username.replace("_", "").replace("-", "").replace(".", "").isalnum()
        ):
            raise UserError(
                "a user name has 1-64 letters, digits, '.', '_' or '-'", code="users.name_format"
            )
        hashed = self.passwords.hash(password)
        now = self.clock()
        with self.audit.transaction() as conn:
            self.audit.record_in(
                conn,
                AuditKind.USER_CHANGED,
                actor or SYSTEM_ACTOR,
                change="added",
                user=username,
                role=role.value,
                os_user=os_user,
            )
            return self.users.insert(
                conn,
                username=username,
                display_name=display_name or username,
                role=role,
                password_hash=hashed,
                os_user=os_user,
                now=now,
            )

    def _change(
        self, actor: Principal | None, username: str, change: str, bump: bool, **values: object
    ) -> User:
        user = self.users.by_username(username)
        if user is None:
            raise UnknownUserError(f"no user named {username!r}", params={"user": username})
        shown = {k: v for k, v in values.items() if k in {"role", "disabled", "os_user"}}
        with self.audit.transaction() as conn:
            self.audit.record_in(
                conn,
                AuditKind.USER_CHANGED,
                actor or SYSTEM_ACTOR,
                change=change,
                user=username,
                **shown,
            )
            return self.users.update(conn, user.id, self.clock(), bump_tokens=bump, **values)

    def set_password(self, actor: Principal | None, username: str, password: str) -> User:
        problem = password_problem(password)
        if problem:
            raise UserError(problem.text, code=problem.code, params=problem.params)
        return self._change(
            actor,
            username,
            "password",
            True,
            password_hash=self.passwords.hash(password),
            failed_logins=0,
            locked_until=None,
        )

    def set_role(self, actor: Principal | None, username: str, role: Role) -> User:
        return self._change(actor, username, "role", True, role=role.value)

    def set_disabled(self, actor: Principal | None, username: str, disabled: bool) -> User:
        change = "disabled" if disabled else "enabled"
        return self._change(actor, username, change, True, disabled=disabled)

    def unlock(self, actor: Principal | None, username: str) -> User:
        return self._change(actor, username, "unlocked", False, failed_logins=0, locked_until=None)

    def set_os_user(self, actor: Principal | None, username: str, os_user: str | None) -> User:
        return self._change(actor, username, "os_user", True, os_user=os_user)

    def ensure_first_admin(self, password: str | None) -> tuple[User, str] | None:
        """On first start (no user at all): an ``admin`` user; returns it with its password
        (the given one, or a generated one to print once). None when users exist."""
        if self.users.count() > 0:
            return None
        chosen = password or secrets.token_urlsafe(12)
        user = self.add_user(None, "admin", Role.ADMIN, chosen, display_name="Administrator")
        return user, chosen


def auth_config(settings: Settings) -> AuthConfig:
    return AuthConfig(
        access_ttl=timedelta(minutes=settings.console_access_token_minutes),
        refresh_ttl=timedelta(days=settings.console_refresh_token_days),
        session_ttl=timedelta(hours=settings.console_session_hours),
        lockout=LockoutPolicy(settings.console_lockout_failures, settings.console_lockout_minutes),
    )


def build_auth_service(
    settings: Settings,
    *,
    engine: Engine | None = None,
    audit: Audit | None = None,
    hasher: PasswordHasher | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> AuthService:
    """The service over the configured database (migrated by the caller)."""
    engine = engine or make_engine(settings.sqlalchemy_url)
    audit = audit or Audit(SqlEvidenceLog(engine))
    return AuthService(
        UserRepository(engine),
        SessionRepository(engine),
        Passwords(hasher),
        AccessTokens(
            access_token_key(settings), timedelta(minutes=settings.console_access_token_minutes)
        ),
        audit,
        auth_config(settings),
        clock,
    )
