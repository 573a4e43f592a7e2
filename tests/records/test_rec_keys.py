"""Keys: generated key files are atomic and owner-only; production refuses generated keys."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr

from flows.app import build_deps
from ivr.errors import ConfigError
from ivr.settings import Settings
from records.vault import Vault

HERE = Path(__file__).parent
ROUNDS = 6
WORKERS = 3


def test_two_processes_starting_together_get_the_same_key(tmp_path: Path) -> None:
    for round_ in range(ROUNDS):
        data_dir, go = tmp_path / f"data{round_}", tmp_path / f"go{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, str(HERE / "key_race_worker.py"), str(data_dir), str(go)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for _ in range(WORKERS)
        ]
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        go.touch()
        outputs = {proc.communicate(timeout=60)[0].strip() for proc in procs}
        assert all(proc.returncode == 0 for proc in procs)
        assert len(outputs) == 1, f"round {round_}: processes disagree on the key"
        on_disk = [p.name for p in (data_dir / "keys").iterdir()]
        assert sorted(on_disk) == ["blind_index.key", "master.key"]  # no temporary left
        for name in on_disk:
            assert stat.S_IMODE((data_dir / "keys" / name).stat().st_mode) == 0o600


def test_key_file_is_private_from_its_first_instant_whatever_the_umask(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the key's name appears it is already 0600 and complete (no chmod afterwards)."""
    seen: list[tuple[int, bytes]] = []
    real_link = os.link

    def link(src: str | Path, dst: str | Path) -> None:
        real_link(src, dst)
        seen.append((stat.S_IMODE(os.stat(dst).st_mode), Path(dst).read_bytes()))

    monkeypatch.setattr(os, "link", link)
    old = os.umask(0)
    try:
        key = Settings(data_dir=tmp_path).key_bytes("blind_index")
    finally:
        os.umask(old)
    path = tmp_path / "keys" / "blind_index.key"
    assert seen == [(0o600, key.hex().encode() + b"\n")]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert Settings(data_dir=tmp_path).key_bytes("blind_index") == key


def test_a_key_file_readable_by_others_or_malformed_is_refused(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    settings.key_bytes("master")
    path = tmp_path / "keys" / "master.key"
    path.chmod(0o644)
    with pytest.raises(ConfigError, match="readable by others"):
        settings.key_bytes("master")
    path.chmod(0o600)
    path.write_text("not hex at all")
    with pytest.raises(ConfigError, match="hex") as err:
        settings.key_bytes("master")
    assert "not hex at all" not in str(err.value)


def test_configured_keys_are_used_and_checked(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, master_key=SecretStr("ab" * 16), blind_index_key=SecretStr("cd" * 16)
    )
    assert settings.key_bytes("master") == bytes.fromhex("ab" * 16)
    assert settings.key_bytes("blind_index") == bytes.fromhex("cd" * 16)
    assert not (tmp_path / "keys").exists()
    with pytest.raises(ConfigError, match="IVR_MASTER_KEY must be 32 hex digits"):
        Settings(data_dir=tmp_path, master_key=SecretStr("ab" * 8)).key_bytes("master")


def test_production_refuses_generated_keys_naming_the_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("IVR_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("IVR_ENV", "production")
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path))
    settings = Settings()
    with pytest.raises(ConfigError) as err:
        settings.key_bytes("blind_index")
    for variable in ("IVR_MASTER_KEY", "IVR_RECORDS_KEYRING_FILE", "IVR_BLIND_INDEX_KEY"):
        assert variable in str(err.value)
    with pytest.raises(ConfigError, match="IVR_MASTER_KEY"):
        Vault.from_settings(settings)
    assert not (tmp_path / "keys").exists()  # nothing generated, nothing read


async def test_production_composition_root_refuses_before_building_anything(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path, env="production", master_key=SecretStr("ab" * 16))
    with pytest.raises(ConfigError, match="IVR_BLIND_INDEX_KEY"):
        await build_deps(settings)
    assert not (tmp_path / "keys").exists()


def test_production_with_every_key_configured_needs_no_key_files(tmp_path: Path) -> None:
    ring = tmp_path / "ring.json"
    ring.write_text('{"current": "k1", "keys": {"k1": "' + "11" * 16 + '"}}')
    ring.chmod(0o600)
    settings = Settings(
        data_dir=tmp_path,
        env="production",
        records_keyring_file=ring,
        blind_index_key=SecretStr("22" * 16),
    )
    assert settings.missing_production_keys() == []
    vault = Vault.from_settings(settings)
    assert vault.keyring.current_id == "k1"
    assert not (tmp_path / "keys").exists()


def test_every_generated_key_goes_the_same_way_the_console_signing_key_too(
    tmp_path: Path,
) -> None:
    from console.auth.keys import access_token_key

    key = access_token_key(Settings(data_dir=tmp_path))
    path = tmp_path / "keys" / "console_jwt.key"
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert access_token_key(Settings(data_dir=tmp_path)) == key
    with pytest.raises(ConfigError, match="IVR_CONSOLE_JWT_KEY"):
        access_token_key(Settings(data_dir=tmp_path / "prod", env="production"))
