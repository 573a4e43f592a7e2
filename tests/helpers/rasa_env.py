"""Run a script in the Rasa environment (``.venv-rasa``: Python 3.10, Rasa 3.6), for tests of
code that runs inside Rasa (the launcher, the pinyin featurizer, the endpoints it reads)."""

from __future__ import annotations

import json
import subprocess
from typing import Any

from ivr.settings import REPO_ROOT
from shell.rasa_model import RASA_VENV, rasa_env


def run_in_rasa_env(script: str, *args: str, timeout_s: float = 300) -> Any:
    """Run ``script`` with the Rasa environment's Python; its last stdout line is JSON."""
    out = subprocess.run(
        [str(RASA_VENV / "bin" / "python"), "-c", script, *args],
        cwd=REPO_ROOT,
        env=rasa_env(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])
