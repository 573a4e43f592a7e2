"""Settings come from IVR_* variables; secrets never print."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.settings import Settings, mask_url


def test_env_prefix_and_embedded_default(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("IVR_DATABASE_URL", raising=False)
    monkeypatch.delenv("IVR_REDIS_URL", raising=False)
    settings = Settings()
    assert settings.data_dir == tmp_path
    assert settings.sqlalchemy_url == f"sqlite:///{tmp_path / 'ivr.db'}"
    assert settings.redis_url is None


def test_database_and_redis_urls_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_DATABASE_URL", "postgresql://u:pw@db/ivr")
    monkeypatch.setenv("IVR_REDIS_URL", "redis://:s3cret@cache:6379/0")
    settings = Settings()
    assert settings.sqlalchemy_url == "postgresql://u:pw@db/ivr"
    assert settings.redis_url == "redis://:s3cret@cache:6379/0"


def test_secrets_are_masked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("IVR_FREESWITCH_PASSWORD", "ClueCon-secret")
    monkeypatch.setenv("IVR_BLIND_INDEX_KEY", "00" * 16)
    shown = repr(Settings())
    assert "ClueCon-secret" not in shown
    assert "00" * 16 not in shown
    assert mask_url("redis://:s3cret@cache:6379/0") == "redis://:***@cache:6379/0"
    assert mask_url("postgresql://u:pw@db/ivr") == "postgresql://u:***@db/ivr"
    assert mask_url("sqlite:///var/ivr.db") == "sqlite:///var/ivr.db"


def test_generated_key_is_stable_and_private(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    key = settings.key_bytes("blind_index")
    assert len(key) == 16
    assert settings.key_bytes("blind_index") == key
    assert (tmp_path / "keys" / "blind_index.key").stat().st_mode & 0o077 == 0
