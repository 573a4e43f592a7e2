"""Every installed dependency of the app environment is pinned in constraints/app.txt, so a clean
install (CI) gets exactly what the tests ran with; ``make lock`` pins nothing else."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from ivr.settings import REPO_ROOT

LOCK = REPO_ROOT / "scripts" / "lock.py"


def _lock_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ivr_lock_script", LOCK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_installed_dependency_closure_is_pinned() -> None:
    done = subprocess.run(
        [sys.executable, str(LOCK), "--check"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


def test_check_names_a_missing_or_different_pin(tmp_path: Path) -> None:
    lock = _lock_module()
    installed = lock.closure(extras=lock.SETUP_EXTRAS)
    pins = lock.pinned()
    assert lock.unpinned(installed, pins) == []
    lines = lock.CONSTRAINTS.read_text().splitlines()
    edited = tmp_path / "app.txt"
    edited.write_text(
        "\n".join(
            "rasa_sdk==0.0.1" if line.lower().startswith("rasa") else line
            for line in lines
            if not line.lower().startswith("aiohttp==")
        )
    )
    problems = lock.unpinned(installed, lock.pinned(edited))
    assert problems == [
        f"aiohttp=={installed['aiohttp']} (pinned: nothing)",
        f"rasa-sdk=={installed['rasa-sdk']} (pinned: 0.0.1)",
    ]


def test_closure_is_ivrs_dependencies_only() -> None:
    lock = _lock_module()
    names = set(lock.closure(extras=lock.SETUP_EXTRAS))
    assert {"aiohttp", "rasa-sdk", "pytest", "faster-whisper", "sqlalchemy"} <= names
    assert not names & {"pip", "setuptools", "wheel", "ivr", "py-spy", "greenswitch"}
