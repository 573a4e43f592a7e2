"""Rasa's production endpoints: the Redis tracker and lock stores get host, password and TLS
from the settings (IVR_RASA_TRACKER_REDIS_URL), never from the repository; Rasa itself connects
with them to a password-protected Redis."""

from __future__ import annotations

import stat
import textwrap
from pathlib import Path

import pytest
import yaml
from helpers.rasa_env import run_in_rasa_env
from helpers.redis_server import ThrowawayRedis

from ivr.errors import ConfigError
from ivr.settings import Settings
from shell.rasa_endpoints import PRODUCTION_TEMPLATE, production_endpoints, redis_store_options

PASSWORD = "tr4cker/p:w"


def test_the_template_holds_no_host_or_secret() -> None:
    text = PRODUCTION_TEMPLATE.read_text()
    data = yaml.safe_load(text)
    for store in ("tracker_store", "lock_store"):
        assert data[store]["type"] == "redis"
        assert not {"url", "port", "password", "username"} & set(data[store])
    assert "${" not in text


def test_password_and_tls_come_from_the_url(tmp_path: Path) -> None:
    url = "rediss://ivr:s%40fe@cache.internal:6380/3?ssl_ca_certs=/etc/ivr/ca.pem"
    settings = Settings(data_dir=tmp_path, rasa_tracker_redis_url=url)
    path = production_endpoints(settings, 5056, tmp_path / "run")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds the password
    data = yaml.safe_load(path.read_text())
    assert data["action_endpoint"]["url"] == "http://127.0.0.1:5056/webhook"
    tracker, lock = data["tracker_store"], data["lock_store"]
    assert (tracker["url"], tracker["port"], tracker["db"]) == ("cache.internal", 6380, 3)
    assert (tracker["username"], tracker["password"]) == ("ivr", "s@fe")
    assert tracker["use_ssl"] is True and tracker["ssl_ca_certs"] == "/etc/ivr/ca.pem"
    assert tracker["key_prefix"] == "ivr-tracker" and tracker["record_exp"] == 86400
    assert lock["db"] == 4 and lock["password"] == "s@fe" and lock["use_ssl"] is True
    assert redis_store_options("redis://127.0.0.1") == {"url": "127.0.0.1", "port": 6379}


@pytest.mark.parametrize("url", ["http://cache:6379/0", "redis:///0", "redis://cache/zero"])
def test_a_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="IVR_RASA_TRACKER_REDIS_URL"):
        redis_store_options(url)


def test_without_the_setting_there_are_no_production_endpoints(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IVR_RASA_TRACKER_REDIS_URL"):
        production_endpoints(Settings(data_dir=tmp_path), 5055, tmp_path)


@pytest.mark.slow
def test_rasa_reaches_a_password_protected_redis_with_them(tmp_path: Path) -> None:
    server = ThrowawayRedis(password=PASSWORD)
    server.start()
    try:
        url = server.url.replace("/0", "/5")
        settings = Settings(data_dir=tmp_path, rasa_tracker_redis_url=url)
        path = production_endpoints(settings, 5055, tmp_path / "run")
        probe = textwrap.dedent(
            f"""
            import json
            from rasa.core.lock_store import LockStore
            from rasa.core.tracker_store import TrackerStore
            from rasa.utils.endpoints import read_endpoint_config
            tracker = TrackerStore.create(read_endpoint_config({str(path)!r}, "tracker_store"))
            lock = LockStore.create(read_endpoint_config({str(path)!r}, "lock_store"))
            tracker.red.set("probe", "1")
            db = tracker.red.connection_pool.connection_kwargs["db"]
            print(json.dumps([type(tracker).__name__, type(lock).__name__, lock.red.ping(), db]))
            """
        )
        assert run_in_rasa_env(probe, timeout_s=120) == [
            "RedisTrackerStore",
            "RedisLockStore",
            True,
            5,
        ]
    finally:
        server.stop()
