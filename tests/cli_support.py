"""Helpers of the CLI tests of any package: an access token of a console user, as
``ivr users token`` gives one (commands that act for a person or show customer data
authenticate; nobody types an actor or a role)."""

from __future__ import annotations

from datetime import UTC, datetime

from console.auth.service import build_auth_service
from console.permissions import Role
from ivr.db import migrate
from ivr.settings import get_settings


def token_for(name: str, role: Role) -> str:
    """An access token of the console user ``name`` (made with ``role`` if new)."""
    settings = get_settings()
    migrate(settings.sqlalchemy_url)
    auth = build_auth_service(settings)
    user = auth.users.by_username(name) or auth.add_user(None, name, role, "a long password")
    return auth.tokens.issue(user.id, user.role.value, user.token_version, datetime.now(UTC))
