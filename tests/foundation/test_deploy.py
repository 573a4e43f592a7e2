"""The deployment files (`deploy/`): every app service `make run` starts has a Kubernetes workload
and a systemd unit that run the same module, listen on its port, probe an endpoint the service
really serves and stop by draining (SIGTERM, a grace period)."""

from __future__ import annotations

import configparser
import importlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.settings import REPO_ROOT, get_settings
from shell import services

DEPLOY = REPO_ROOT / "deploy"
SPECS = {
    spec.name: spec
    for spec in (
        services.esl_server_spec("127.0.0.1", 8084),
        services.console_spec("127.0.0.1", 8000),
        services.rasa_spec(Path("model.tar.gz"), 5005, Path("endpoints.yml"), 60),
        services.action_server_spec(5055),
    )
}
# the endpoint each service's own readiness check in shell/services.py asks for (TCP for ESL)
PROBE_PATHS = {"esl": None, "console": "/healthz", "rasa": "/status", "actions": "/health"}
GRACE_S = {"esl": 600}  # calls must be let finish: at least 10 minutes


def module_of(argv: Sequence[str]) -> str:
    args = list(argv)
    return args[args.index("-m") + 1]


def k8s_containers() -> dict[str, tuple[dict[str, Any], dict[str, Any]]]:
    found: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc and doc.get("kind") in ("Deployment", "StatefulSet"):
                pod = doc["spec"]["template"]["spec"]
                for container in pod["containers"]:
                    found[container["name"]] = (pod, container)
    return found


def systemd_units() -> dict[str, configparser.ConfigParser]:
    units: dict[str, configparser.ConfigParser] = {}
    for path in sorted((DEPLOY / "systemd").glob("ivr-*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text(encoding="utf-8"))
        units[path.name.removeprefix("ivr-").split("@")[0].removesuffix(".service")] = parser
    return units


def test_probe_paths_are_endpoints_the_services_serve() -> None:
    console_source = (REPO_ROOT / "console" / "app.py").read_text(encoding="utf-8")
    services_source = (REPO_ROOT / "shell" / "services.py").read_text(encoding="utf-8")
    assert '@app.get("/healthz"' in console_source
    assert "/status" in services_source and "/health" in services_source


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_service_has_a_kubernetes_workload_with_real_probes(name: str) -> None:
    containers = k8s_containers()
    assert name in containers, f"no Kubernetes workload runs {name}"
    pod, container = containers[name]
    spec = SPECS[name]
    assert module_of(container["command"]) == module_of(spec.argv)
    ports = {p["containerPort"] for p in container["ports"]}
    assert spec.port in ports
    for probe in ("readinessProbe", "livenessProbe"):
        check = container[probe]
        if PROBE_PATHS[name] is None:
            assert check["tcpSocket"]["port"] == spec.port
        else:
            assert check["httpGet"]["path"] == PROBE_PATHS[name]
    assert pod["terminationGracePeriodSeconds"] >= GRACE_S.get(name, 20)


@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_service_has_a_systemd_unit_that_waits_ready_and_drains(name: str) -> None:
    units = systemd_units()
    assert name in units, f"no systemd unit runs {name}"
    service = units[name]["Service"]
    spec = SPECS[name]
    assert module_of(service["ExecStart"].split()) == module_of(spec.argv)
    ready = service["ExecStartPost"]
    if PROBE_PATHS[name] is None:
        assert "nc -z" in ready
    else:
        assert re.search(rf"127\.0\.0\.1:(%i|{spec.port}){PROBE_PATHS[name]}\b", ready), ready
    assert service["KillSignal"] == "SIGTERM"
    assert int(service["TimeoutStopSec"]) >= GRACE_S.get(name, 20)
    assert service["Restart"] == "on-failure"


JOB_SERVICES = {"jobs": "shell.jobs_worker:broker", "jobs-scheduler": "shell.jobs_worker:scheduler"}


@pytest.mark.parametrize("name", sorted(JOB_SERVICES))
def test_job_worker_and_scheduler_are_deployed_on_the_real_broker(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IVR_REDIS_URL", "redis://127.0.0.1:6379/0")
    get_settings.cache_clear()
    try:
        jobs_worker = importlib.import_module("shell.jobs_worker")
    finally:
        get_settings.cache_clear()
    target = JOB_SERVICES[name]
    assert hasattr(jobs_worker, target.split(":")[1])
    _, container = k8s_containers()[name]
    assert module_of(container["command"]) == "taskiq" and target in container["command"]
    assert "import shell.jobs_worker" in " ".join(container["readinessProbe"]["exec"]["command"])
    service = systemd_units()[name]["Service"]
    assert module_of(service["ExecStart"].split()) == "taskiq" and target in service["ExecStart"]
    assert service["KillSignal"] == "SIGTERM"
