"""Who is acting: the authenticated :class:`Principal`, and how the CLI finds it.

A CLI command that acts for a person calls :func:`cli_principal`: an access token (``--token``
or ``IVR_TOKEN``, from ``ivr users token``) or else the OS user mapped to a console user
(``ivr users add --os-user``). There is no self-declared role. Then it checks the one
permission table with :func:`authorize`, which records a refusal as evidence.
"""

from __future__ import annotations

import getpass
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from console.permissions import Permission, Role, allowed
from ivr.errors import IvrError

Via = Literal["session", "token", "os_user", "system"]


class NotAuthenticatedError(IvrError):
    """Nobody could be authenticated (no valid token, no mapped OS user)."""

    code = "auth.not_signed_in"


class PermissionDeniedError(IvrError):
    """The authenticated principal's role does not hold the permission."""

    def __init__(self, principal: Principal, permission: Permission) -> None:
        super().__init__(
            f"{principal.username} ({principal.role.value}) may not {permission.value}",
            code="auth.forbidden",
            params={"role": principal.role.value, "permission": permission.value},
        )
        self.principal = principal
        self.permission = permission


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated user as seen by a request or a CLI command."""

    user_id: str
    username: str
    role: Role
    via: Via
    session_id: str | None = None

    def may(self, permission: Permission) -> bool:
        return allowed(self.role, permission)

    def actor(self) -> dict[str, str]:
        """How evidence names this principal."""
        return {"actor": self.username, "actor_id": self.user_id, "actor_role": self.role.value}


def cli_principal(token: str | None = None) -> Principal:
    """The person at this terminal: a valid access token, else the mapped OS user."""
    from console.auth.service import build_auth_service
    from ivr.settings import get_settings

    service = build_auth_service(get_settings())
    now = datetime.now(UTC)
    token = token or os.environ.get("IVR_TOKEN")
    if token:
        return service.principal_from_access_token(token, now, via="token")
    os_user = getpass.getuser()
    principal = service.principal_from_os_user(os_user)
    if principal is None:
        raise NotAuthenticatedError(
            f"OS user {os_user!r} is not mapped to a console user: sign in with "
            "`ivr users token` and pass --token / IVR_TOKEN, or ask an admin for "
            f"`ivr users add NAME --role ROLE --os-user {os_user}`"
        )
    return principal


def authorize(principal: Principal, permission: Permission, resource: str = "") -> None:
    """Raise :class:`PermissionDeniedError` unless allowed; a refusal is evidence."""
    if principal.may(permission):
        return
    from console.audit import build_audit
    from ivr.settings import get_settings

    build_audit(get_settings()).denied(principal, permission, resource)
    raise PermissionDeniedError(principal, permission)
