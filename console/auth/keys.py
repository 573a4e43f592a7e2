"""The access-token signing key: from ``IVR_CONSOLE_JWT_KEY`` or a generated file (dev)."""

from __future__ import annotations

from ivr.errors import ConfigError
from ivr.settings import Settings

KEY_BYTES = 32


def access_token_key(settings: Settings) -> bytes:
    """32+ bytes; a generated file under ``data_dir/keys`` (atomic, owner-only; refused in
    production) when not configured."""
    if settings.console_jwt_key is not None:
        try:
            key = bytes.fromhex(settings.console_jwt_key.get_secret_value())
        except ValueError as exc:
            raise ConfigError("IVR_CONSOLE_JWT_KEY must be hex") from exc
        if len(key) < KEY_BYTES:
            raise ConfigError(f"IVR_CONSOLE_JWT_KEY needs at least {KEY_BYTES} bytes (hex)")
        return key
    return settings.generated_key(
        "console_jwt", KEY_BYTES, f"IVR_CONSOLE_JWT_KEY ({2 * KEY_BYTES}+ hex digits)"
    )
