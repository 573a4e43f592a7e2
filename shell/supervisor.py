"""``make run``: start Rasa, the action server, the ESL server and the web console; stop all.

Ports are checked before anything starts; each service must report ready within its timeout;
if any child dies, or on Ctrl-C / SIGTERM, every child is stopped and nothing is left running.
"""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace
from types import FrameType
from urllib.parse import urlsplit

from console.bootstrap import first_admin
from ivr.errors import IvrError
from ivr.settings import Settings
from shell import rasa_model
from shell.rasa_endpoints import production_endpoints
from shell.services import (
    ManagedProcess,
    ServiceSpec,
    action_server_spec,
    check_ports_free,
    console_spec,
    esl_server_spec,
    rasa_spec,
    runtime_endpoints,
)

WHAT_EACH_DOES = {
    "actions": "rasa-sdk action server",
    "rasa": "Rasa server (REST channel /webhooks/rest/webhook)",
    "esl": "ESL outbound-socket server (FreeSWITCH: socket <addr> async full)",
    "console": "web console and API (/healthz, /api/v1, /docs)",
}


def build_specs(settings: Settings) -> list[ServiceSpec]:
    model = rasa_model.ensure_model()
    run_dir = settings.data_dir / "run"
    if settings.rasa_tracker_redis_url:  # Rasa nodes sharing conversations in Redis
        endpoints = production_endpoints(settings, settings.action_server_port, run_dir)
    else:
        endpoints = runtime_endpoints(settings.action_server_port, run_dir)
    rasa_servers = []
    for i, url in enumerate(settings.rasa_urls):
        parts = urlsplit(url)
        spec = rasa_spec(
            model.path,
            parts.port or 5005,
            endpoints,
            settings.rasa_start_timeout_s,
            host=parts.hostname or "127.0.0.1",
        )
        rasa_servers.append(spec if i == 0 else replace(spec, name=f"rasa-{i + 1}"))
    return [
        action_server_spec(settings.action_server_port),
        *rasa_servers,
        esl_server_spec(settings.esl_host, settings.esl_port),
        console_spec(settings.console_host, settings.console_port),
    ]


def run_all(settings: Settings) -> int:
    """Run every service until interrupted; return the process exit code."""
    stopping = False

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    started: list[ManagedProcess] = []
    try:
        specs = build_specs(settings)
        check_ports_free(specs)
        admin_line = first_admin(settings)
        if admin_line:
            say(admin_line)
        # every process starts at once (the Rasa servers load their models side by side);
        # readiness is then awaited in order, the action server before the Rasa warm-up turns
        for spec in specs:
            say(f"starting {spec.name} on {spec.address} ...")
            started.append(ManagedProcess(spec, settings.data_dir / "log"))
        for process in started:
            process.wait_ready()
            if stopping:
                return 130
        say("ready:")
        for process in started:
            spec = process.spec
            what = WHAT_EACH_DOES[spec.name.split("-")[0]]
            say(f"  {spec.name:<8} {spec.address:<16} {what}")
        say(f"logs in {settings.data_dir / 'log'}; Ctrl-C stops everything")
        while not stopping:
            for process in started:
                if not process.alive():
                    say(f"{process.spec.name} stopped unexpectedly:\n{process.log_tail()}")
                    return 1
            time.sleep(0.5)
        return 0
    except IvrError as exc:
        say(f"error: {exc}")
        return 1
    finally:
        for process in reversed(started):
            process.stop()
        if started:
            say("all services stopped")


def say(line: str) -> None:
    sys.stdout.write(f"[ivr] {line}\n")
    sys.stdout.flush()
