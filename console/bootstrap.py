"""First start: create the ``admin`` user when the console has no user at all.

The password is ``IVR_CONSOLE_ADMIN_PASSWORD`` when set, else generated and returned once so
``make run`` prints it; only its argon2 hash is kept.
"""

from __future__ import annotations

from console.auth.service import build_auth_service
from ivr.db import migrate
from ivr.settings import Settings


def first_admin(settings: Settings) -> str | None:
    """A line to print when the first admin was just created, else None."""
    migrate(settings.sqlalchemy_url)
    configured = settings.console_admin_password
    created = build_auth_service(settings).ensure_first_admin(
        configured.get_secret_value() if configured else None
    )
    if created is None:
        return None
    user, password = created
    if configured:
        return (
            f"console: first admin '{user.username}' created (password: IVR_CONSOLE_ADMIN_PASSWORD)"
        )
    return (
        f"console: first admin '{user.username}' created with password {password} "
        "(shown once: change it with `ivr users passwd admin`)"
    )
