"""Shared fixtures: the real Rasa server and action server, started once per test session."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import hypothesis
import pytest
from log_scan import LogScanHandler

from ivr.db import migrate
from ivr.settings import Settings
from shell import rasa_model
from shell.services import (
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)

# Property tests check behaviour, not speed: on a loaded 2-core machine example generation and
# single examples can be slow, which must not fail a run (the examples and their count stay).
hypothesis.settings.register_profile(
    "ivr",
    deadline=None,
    suppress_health_check=[hypothesis.HealthCheck.too_slow, hypothesis.HealthCheck.data_too_large],
)
hypothesis.settings.load_profile("ivr")


@dataclass(frozen=True)
class RasaStack:
    """URLs of the running Rasa server and action server, and the action server's data."""

    rasa_url: str
    action_url: str
    actions_metrics_url: str
    """The action server's Prometheus ``/metrics`` (``IVR_ACTIONS_METRICS_PORT``)."""
    rasa: ManagedProcess
    actions: ManagedProcess
    settings: Settings
    """Settings of the action server: its DNC/consent/evidence stores live under data_dir."""


def isolated_settings(data_dir: Path) -> Settings:
    """Settings for a private data dir: migrated database and keys created once, up front."""
    database_url = f"sqlite:///{data_dir / 'ivr.db'}"
    settings = Settings(data_dir=data_dir, database_url=database_url, redis_url=None)
    migrate(settings.sqlalchemy_url)
    settings.key_bytes("blind_index")
    settings.key_bytes("master")
    return settings


@pytest.fixture(scope="session")
def rasa_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RasaStack]:
    """The real trained model on a real Rasa server, with the real action server.

    The action server gets a private ``IVR_DATA_DIR`` (SQLite DNC, consent and evidence stores)
    so the tests can inspect what the actions wrote.
    """
    model = rasa_model.ensure_model()
    run_dir: Path = tmp_path_factory.mktemp("rasa-run")
    settings = isolated_settings(tmp_path_factory.mktemp("bot-data"))
    action_port, rasa_port, metrics_port = free_port(), free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env |= {
        "IVR_DATA_DIR": str(settings.data_dir),
        "IVR_DATABASE_URL": str(settings.database_url),
        "IVR_ACTIONS_METRICS_PORT": str(metrics_port),
    }
    actions = ManagedProcess(action_server_spec(action_port, env=env), run_dir)
    rasa = ManagedProcess(
        rasa_spec(model.path, rasa_port, runtime_endpoints(action_port, run_dir), 180.0), run_dir
    )
    try:
        actions.wait_ready()
        rasa.wait_ready()
        yield RasaStack(
            rasa_url=f"http://127.0.0.1:{rasa_port}",
            action_url=f"http://127.0.0.1:{action_port}",
            actions_metrics_url=f"http://127.0.0.1:{metrics_port}/metrics",
            rasa=rasa,
            actions=actions,
            settings=settings,
        )
    finally:
        rasa.stop()
        actions.stop()


# -- customer data in log lines (tests/log_scan.py): every record of the run is scanned --------

LOG_SCAN = LogScanHandler()


def pytest_configure(config: pytest.Config) -> None:
    LOG_SCAN.install()


def pytest_runtest_setup(item: pytest.Item) -> None:
    LOG_SCAN.current_test = item.nodeid
    LOG_SCAN.install()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if LOG_SCAN.findings and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not LOG_SCAN.findings:
        return
    terminalreporter.section("customer data in log lines (tests/log_scan.py)", red=True)
    for finding in LOG_SCAN.findings[:50]:
        terminalreporter.line(str(finding))
    if len(LOG_SCAN.findings) > 50:
        terminalreporter.line(f"... and {len(LOG_SCAN.findings) - 50} more")
