"""``ivr users add|passwd|role|disable|enable|unlock|list|token``: console users from the shell.

Every command except ``token`` acts for a person: it authenticates (``--token``/``IVR_TOKEN``, or
the OS user mapped to a console user) and needs ``users.manage`` (``users.read`` for ``list``)
in the permission table; each change is evidence naming that actor. ``ivr users token NAME``
signs in with a password and prints a short-lived access token for ``IVR_TOKEN``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import typer

from console.auth.service import SignInError, build_auth_service
from console.auth.users import UserError
from console.identity import (
    NotAuthenticatedError,
    PermissionDeniedError,
    Principal,
    authorize,
    cli_principal,
)
from console.permissions import Permission, Role, parse_role
from ivr.db import migrate
from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.settings import get_settings

users_app = typer.Typer(help="Console users: add, passwords, roles, disable.", no_args_is_help=True)
TOKEN_OPTION = typer.Option(None, "--token", help="access token (default: IVR_TOKEN, else OS user)")
ROLE_HELP = "one of: " + ", ".join(r.value for r in Role)


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    app.add_typer(users_app, name="users")


def acting_principal(permission: Permission, token: str | None, resource: str = "") -> Principal:
    """The authenticated person at the terminal, if the table lets them ``permission``.

    For any package's CLI: ``from console.cli import acting_principal``."""
    migrate(get_settings().sqlalchemy_url)
    try:
        principal = cli_principal(token)
        authorize(principal, permission, resource)
    except (NotAuthenticatedError, PermissionDeniedError) as exc:
        raise fail(str(exc), 4) from exc
    return principal


def _service() -> Any:
    return build_auth_service(get_settings())


def _role(text: str) -> Role:
    try:
        return parse_role(text)
    except ValueError as exc:
        raise fail(str(exc), 2) from exc


def _show(user: Any, as_json: bool) -> None:
    data = user.public()
    data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in data.items()}
    emit(
        data,
        as_json,
        lambda d: f"{d['username']} ({d['role']}){' DISABLED' if d['disabled'] else ''}",
    )


def _do(body: Any) -> Any:
    try:
        return body()
    except UserError as exc:
        raise fail(str(exc), 2) from exc
    except IvrError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc


@users_app.command("add")
def users_add(
    username: str,
    role: str = typer.Option(..., "--role", help=ROLE_HELP),
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    display_name: str | None = typer.Option(None, "--name"),
    os_user: str | None = typer.Option(None, "--os-user", help="OS account that acts as this user"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a console user with a role."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    chosen = _role(role)
    user = _do(
        lambda: _service().add_user(
            actor, username, chosen, password, display_name=display_name, os_user=os_user
        )
    )
    _show(user, as_json)


@users_app.command("passwd")
def users_passwd(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Set a user's password (ends their sessions and tokens; unlocks the account)."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    _show(_do(lambda: _service().set_password(actor, username, password)), as_json)


@users_app.command("role")
def users_role(
    username: str,
    role: str = typer.Argument(..., help=ROLE_HELP),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Change a user's role (ends their sessions and tokens)."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    chosen = _role(role)
    _show(_do(lambda: _service().set_role(actor, username, chosen)), as_json)


@users_app.command("disable")
def users_disable(
    username: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Disable a user: no sign-in, every session and token ends."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    _show(_do(lambda: _service().set_disabled(actor, username, True)), as_json)


@users_app.command("enable")
def users_enable(
    username: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Enable a disabled user again."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    _show(_do(lambda: _service().set_disabled(actor, username, False)), as_json)


@users_app.command("unlock")
def users_unlock(
    username: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Lift a lockout after repeated wrong passwords."""
    actor = acting_principal(Permission.USERS_MANAGE, token, f"users/{username}")
    _show(_do(lambda: _service().unlock(actor, username)), as_json)


@users_app.command("list")
def users_list(token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Every console user with role and state."""
    acting_principal(Permission.USERS_READ, token, "users")
    users, _ = _service().users.page(10_000, 0)
    rows = [
        {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in u.public().items()}
        for u in users
    ]
    emit(
        rows,
        as_json,
        lambda rs: "\n".join(
            f"{r['username']:<20} {r['role']:<20} {'disabled' if r['disabled'] else 'active'}"
            f"{'  os-user ' + r['os_user'] if r['os_user'] else ''}"
            for r in rs
        ),
    )


@users_app.command("token")
def users_token(
    username: str,
    password: str = typer.Option(..., prompt=True, hide_input=True),
    as_json: bool = JSON_OPTION,
) -> None:
    """Sign in and print an access token: ``export IVR_TOKEN=...`` for the commands that act
    for you (recordings, DNC removal, users)."""
    migrate(get_settings().sqlalchemy_url)
    service = _service()
    try:
        user = service.authenticate(username, password)
    except SignInError as exc:
        raise fail(str(exc), 4) from exc
    access = service.tokens.issue(user.id, user.role.value, user.token_version, datetime.now(UTC))
    minutes = int(service.tokens.ttl.total_seconds() // 60)
    emit(
        {"access_token": access, "expires_in": minutes * 60},
        as_json,
        lambda d: f"export IVR_TOKEN={d['access_token']}   # valid {minutes} min",
    )


@users_app.command("init")
def users_init() -> None:
    """When there is no user at all: create the first admin and print its password once."""
    from console.bootstrap import first_admin

    line = first_admin(get_settings())
    if line is None:
        raise fail("users exist already: sign in as an admin (`ivr users token NAME`)", 2)
    typer.echo(line)
