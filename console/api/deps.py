"""FastAPI dependencies: the console's composition (``app.state.ctx``), who is asking, and the
permission each route needs (``require``), checked against the one table.

A request authenticates with ``Authorization: Bearer <access token>`` (API clients) or the
``ivr_session`` cookie (browsers); with the cookie, every unsafe method also needs the
``X-CSRF-Token`` header matching the session's token. A refusal is evidence.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from fastapi import Depends, Request

from console.audit import AuditKind
from console.auth.tokens import digest
from console.identity import NotAuthenticatedError, PermissionDeniedError, Principal
from console.permissions import Permission
from ivr.errors import IvrError

if TYPE_CHECKING:
    from console.context import ConsoleContext

SESSION_COOKIE = "ivr_session"
CSRF_COOKIE = "ivr_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfError(IvrError):
    """A cookie-authenticated unsafe request without the session's CSRF token."""

    code = "auth.csrf"


def context(request: Request) -> ConsoleContext:
    ctx: ConsoleContext = request.app.state.ctx
    return ctx


def current_principal(request: Request) -> Principal:
    """The signed-in principal (401 otherwise); cached on the request."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    ctx = context(request)
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        principal = ctx.auth.principal_from_access_token(auth[7:].strip(), ctx.auth.clock())
    else:
        secret = request.cookies.get(SESSION_COOKIE)
        if not secret:
            raise NotAuthenticatedError("sign in first (session cookie or bearer token)")
        principal, csrf_digest = ctx.auth.principal_from_session(secret)
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not csrf_digest or not hmac.compare_digest(digest(sent), csrf_digest):
                ctx.audit.record(
                    AuditKind.ACCESS_DENIED, principal, permission="csrf", resource=request.url.path
                )
                raise CsrfError(f"missing or wrong {CSRF_HEADER} header")
    request.state.principal = principal
    return principal


def require(permission: Permission) -> Any:
    """A dependency: the principal, if the table lets their role do ``permission``."""

    def check(request: Request, principal: Principal = Depends(current_principal)) -> Principal:
        if not principal.may(permission):
            context(request).audit.denied(principal, permission, request.url.path)
            raise PermissionDeniedError(principal, permission)
        return principal

    check.__permission__ = permission  # type: ignore[attr-defined]  # read by the role matrix
    return Depends(check)


def permission_of(call: Callable[..., Any]) -> Permission | None:
    found = getattr(call, "__permission__", None)
    return found if isinstance(found, Permission) else None
