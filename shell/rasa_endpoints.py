"""Rasa's endpoints on the Redis tracker and lock stores, password and TLS from the settings.

``endpoints.production.yml`` (Redis trackers shared by several Rasa nodes) is a template, as
``endpoints.yml`` (in-memory trackers; :func:`shell.services.runtime_endpoints`) is. With
``IVR_RASA_TRACKER_REDIS_URL`` set
(``redis://[user:password@]host:port/db``; ``rediss://`` for TLS, ``?ssl_ca_certs=<file>`` for a
private CA) the production template is filled from that URL: host, port, username, password and
TLS are never written in the repository, and the file is created with mode 0600 (it holds the
password). The tracker's Redis database is the URL's; the lock store uses the next one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from ivr.errors import ConfigError
from ivr.settings import REPO_ROOT, Settings

PRODUCTION_TEMPLATE = REPO_ROOT / "endpoints.production.yml"


def redis_store_options(url: str) -> dict[str, Any]:
    """Rasa's Redis tracker/lock store options from a Redis URL (password and TLS included)."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("IVR_RASA_TRACKER_REDIS_URL must be redis:// or rediss://host[:port]/db")
    options: dict[str, Any] = {"url": parts.hostname, "port": parts.port or 6379}
    path = parts.path.strip("/")
    if path:
        if not path.isdigit():
            raise ConfigError("IVR_RASA_TRACKER_REDIS_URL: the database must be a number")
        options["db"] = int(path)
    if parts.username:
        options["username"] = unquote(parts.username)
    if parts.password:
        options["password"] = unquote(parts.password)
    if parts.scheme == "rediss":
        options["use_ssl"] = True
        for name in ("ssl_ca_certs", "ssl_certfile", "ssl_keyfile"):
            values = parse_qs(parts.query).get(name)
            if values:
                options[name] = values[0]
    return options


def production_endpoints(settings: Settings, action_port: int, run_dir: Path) -> Path:
    """The endpoints file of a run on the Redis tracker and lock stores
    (``settings.rasa_tracker_redis_url``), the action endpoint at ``action_port``."""
    if not settings.rasa_tracker_redis_url:
        raise ConfigError("production endpoints need IVR_RASA_TRACKER_REDIS_URL")
    data = yaml.safe_load(PRODUCTION_TEMPLATE.read_text()) or {}
    data.setdefault("action_endpoint", {})["url"] = f"http://127.0.0.1:{action_port}/webhook"
    options = redis_store_options(settings.rasa_tracker_redis_url)
    tracker_db = int(options.pop("db", data["tracker_store"].get("db", 0)))
    data["tracker_store"] |= {**options, "db": tracker_db}
    data["lock_store"] |= {**options, "db": tracker_db + 1}
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"endpoints-production-{action_port}.yml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(yaml.safe_dump(data, allow_unicode=True))
    path.chmod(0o600)  # an older copy may have had another mode
    return path
