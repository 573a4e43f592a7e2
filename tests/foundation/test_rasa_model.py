"""Training happens only when the model's inputs change; the held-out test set is not an input."""

from __future__ import annotations

import shutil
from pathlib import Path

from ivr.settings import REPO_ROOT
from shell import rasa_model


def _copy_project(dst: Path) -> Path:
    for name in rasa_model.HASHED_FILES:
        (dst / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / name, dst / name)
    for folder in (*rasa_model.TRAINING_DATA_DIRS, "nlu/test"):
        if (REPO_ROOT / folder).exists():
            shutil.copytree(REPO_ROOT / folder, dst / folder)
    return dst


def test_hash_is_stable_and_changes_with_training_data(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    first = rasa_model.data_hash(root)
    assert rasa_model.data_hash(root) == first
    extra = root / "nlu" / "train" / "extra.yml"
    extra.write_text('version: "3.1"\nnlu: []\n')
    assert rasa_model.data_hash(root) != first


def test_hash_changes_with_domain_and_config(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    first = rasa_model.data_hash(root)
    (root / "domain.yml").write_text((root / "domain.yml").read_text() + "\n# edit\n")
    second = rasa_model.data_hash(root)
    assert second != first
    (root / "config.yml").write_text((root / "config.yml").read_text() + "\n# edit\n")
    assert rasa_model.data_hash(root) != second


def test_held_out_test_set_is_not_a_training_input(tmp_path: Path) -> None:
    root = _copy_project(tmp_path)
    first = rasa_model.data_hash(root)
    test_dir = root / "nlu" / "test"
    test_dir.mkdir(parents=True, exist_ok=True)
    (test_dir / "new.yml").write_text('version: "3.1"\nnlu: []\n')
    assert rasa_model.data_hash(root) == first
    assert all("nlu/test" not in str(p) for p in rasa_model.training_files(root))


def test_current_model_is_cached_not_retrained() -> None:
    first = rasa_model.ensure_model()
    again = rasa_model.ensure_model()
    assert again.path == first.path
    assert again.trained is False
