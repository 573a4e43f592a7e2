"""Shared fixtures: the real Rasa server and action server, started once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr import rasa_model
from ivr.services import (
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)


@dataclass(frozen=True)
class RasaStack:
    """URLs of the running Rasa server and action server."""

    rasa_url: str
    action_url: str
    rasa: ManagedProcess
    actions: ManagedProcess


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """The real trained model on a real Rasa server, with the real action server."""
    model = rasa_model.ensure_model()
    run_dir: Path = tmp_path_factory.mktemp("rasa-run")
    action_port, rasa_port = free_port(), free_port()
    actions = ManagedProcess(action_server_spec(action_port), run_dir)
    rasa = ManagedProcess(
        rasa_spec(model.path, rasa_port, runtime_endpoints(action_port, run_dir), 180.0), run_dir
    )
    try:
        actions.wait_ready()
        rasa.wait_ready()
        yield RasaStack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            action_url=f"http://127.0.0.1:{action_port}",
            rasa=rasa,
            actions=actions,
        )
    finally:
        rasa.stop()
        actions.stop()
