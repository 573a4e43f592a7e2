"""The Rasa model: content hash of its inputs, cached trained models, training on change.

A model is trained only when ``config.yml``, ``domain.yml``, the NLU training data
(``nlu/train``), the dialogue data (``bot/data``) or the pinned Rasa environment changed. Models
are stored as ``models/<hash>.tar.gz``; training writes to a temporary folder and renames, so an
interrupted training never leaves a model that looks complete. The held-out test set
(``nlu/test``) is never part of the hash nor of training.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from ivr.errors import IvrError
from ivr.settings import REPO_ROOT

TRAINING_DATA_DIRS = ("nlu/train", "bot/data")
# bot/nlu_pinyin.py: the custom NLU component named in config.yml (its code shapes the model)
HASHED_FILES = ("config.yml", "domain.yml", "constraints/rasa.txt", "bot/nlu_pinyin.py")
MODELS_DIR = REPO_ROOT / "models"
RASA_VENV = REPO_ROOT / ".venv-rasa"


class TrainingError(IvrError):
    """Rasa training failed or Rasa's environment is missing."""


@dataclass(frozen=True, slots=True)
class ModelResult:
    path: Path
    trained: bool
    seconds: float

    def as_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "trained": self.trained, "seconds": round(self.seconds, 1)}


def rasa_env() -> dict[str, str]:
    """Environment for any Rasa process: no telemetry, quiet SQLAlchemy, repo on the path."""
    env = dict(os.environ)
    env["RASA_TELEMETRY_ENABLED"] = "false"
    env["SQLALCHEMY_SILENCE_UBER_WARNING"] = "1"
    env["TF_CPP_MIN_LOG_LEVEL"] = "2"
    env.pop("VIRTUAL_ENV", None)
    return env


def rasa_executable() -> Path:
    exe = RASA_VENV / "bin" / "rasa"
    if not exe.exists():
        raise TrainingError(f"{exe} is missing: run 'make setup' (scripts/setup.sh)")
    return exe


def training_files(root: Path = REPO_ROOT) -> list[Path]:
    """Every file whose content defines the model, in a stable order."""
    files = [root / name for name in HASHED_FILES]
    for folder in TRAINING_DATA_DIRS:
        files.extend(sorted(p for p in (root / folder).rglob("*") if p.is_file()))
    return files


def data_hash(root: Path = REPO_ROOT) -> str:
    """SHA-256 over the relative paths and contents of :func:`training_files` (16 hex)."""
    digest = hashlib.sha256()
    for path in training_files(root):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def model_path(root: Path = REPO_ROOT) -> Path:
    """Where the model for the current data lives (whether trained yet or not)."""
    return MODELS_DIR / f"{data_hash(root)}.tar.gz"


def ensure_model(force: bool = False) -> ModelResult:
    """Return the model for the current data, training it first if it does not exist."""
    target = model_path()
    if target.exists() and not force:
        return ModelResult(path=target, trained=False, seconds=0.0)
    exe = rasa_executable()
    tmp = MODELS_DIR / f".training-{target.stem}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log_path = MODELS_DIR / "train.log"
    sys.stderr.write(f"[train] training Rasa model {target.name} (log: {log_path}) ...\n")
    start = time.monotonic()
    command = [
        str(exe),
        "train",
        "--config",
        "config.yml",
        "--domain",
        "domain.yml",
        "--data",
        *TRAINING_DATA_DIRS,
        "--out",
        str(tmp),
        "--fixed-model-name",
        "model",
    ]
    with log_path.open("wb") as log:
        proc = subprocess.run(
            command,
            cwd=REPO_ROOT,
            env=rasa_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            check=False,
        )
    produced = tmp / "model.tar.gz"
    if proc.returncode != 0 or not produced.exists():
        shutil.rmtree(tmp, ignore_errors=True)
        tail = log_path.read_text(errors="replace").splitlines()[-15:]
        raise TrainingError("rasa train failed:\n" + "\n".join(tail))
    os.replace(produced, target)
    shutil.rmtree(tmp, ignore_errors=True)
    seconds = time.monotonic() - start
    sys.stderr.write(f"[train] done in {seconds:.1f} s\n")
    return ModelResult(path=target, trained=True, seconds=seconds)
