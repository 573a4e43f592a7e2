"""Child processes of the product (Rasa, action server, ESL server, console): start, wait, stop.

Used by the ``make run`` supervisor and by the test fixtures, so both start services the same
way. Each child runs in its own session (process group) and is stopped with SIGTERM, then
SIGKILL, so no process is left behind. Output goes to ``<data_dir>/log/<name>.log``.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx
import yaml

from ivr.errors import DependencyUnavailableError, IvrError
from ivr.settings import REPO_ROOT
from shell.rasa_model import RASA_VENV, rasa_env

APP_PYTHON = Path(sys.executable)


class PortInUseError(IvrError):
    """A port a service needs is already taken."""


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """How to start one service and how to tell it is ready."""

    name: str
    argv: Sequence[str]
    host: str
    port: int
    ready: Callable[[], bool]
    timeout_s: float = 30.0
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ManagedProcess:
    """A started service: its process, log file, readiness wait and clean stop."""

    def __init__(self, spec: ServiceSpec, log_dir: Path) -> None:
        self.spec = spec
        log_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = log_dir / f"{spec.name}.log"
        self._log: IO[bytes] = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            list(spec.argv),
            cwd=REPO_ROOT,
            env=spec.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )

    def wait_ready(self) -> None:
        """Block until ready; raise with the log's tail if it dies or times out."""
        deadline = time.monotonic() + self.spec.timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DependencyUnavailableError(
                    f"{self.spec.name} exited with code {self.proc.returncode}:\n{self.log_tail()}"
                )
            if self.spec.ready():
                return
            time.sleep(0.25)
        raise DependencyUnavailableError(
            f"{self.spec.name} did not become ready on {self.spec.address} within "
            f"{self.spec.timeout_s:.0f} s (log: {self.log_path}):\n{self.log_tail()}"
        )

    def log_tail(self, lines: int = 12) -> str:
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``timeout_s``."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # children of the group that outlived their leader
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


_HANDED_OUT: set[int] = set()


def _ephemeral_floor() -> int:
    """Lowest port the kernel hands to outgoing connections (Linux default 32768)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """First of ``count`` consecutive ports free on ``host`` now (for tests and tools).

    Ports come from below the kernel's ephemeral range, so an outgoing connection opened later
    (to Redis, PostgreSQL, ...) cannot take one before its server binds it, and a port is never
    handed out twice by one process. ``IVR_RASA_PROCESSES=2`` needs two consecutive ports.
    """
    if count < 1:
        raise ValueError("count must be at least 1")
    rng = random.SystemRandom()
    low, high = 10000, _ephemeral_floor() - count
    if high - low < 1000:  # an unusual kernel setting: fall back to the top of the range
        low, high = 10000, 65535 - count
    for _ in range(500):
        base = rng.randrange(low, high)
        block = range(base, base + count)
        if _HANDED_OUT.isdisjoint(block) and all(port_is_free(host, p) for p in block):
            _HANDED_OUT.update(block)
            return base
    raise RuntimeError(f"no {count} consecutive free ports found on {host}")


def free_port(host: str = "127.0.0.1") -> int:
    """A port free on ``host`` now; see :func:`free_port_block`."""
    return free_port_block(1, host)


def check_ports_free(specs: Sequence[ServiceSpec]) -> None:
    for spec in specs:
        if not port_is_free(spec.host, spec.port):
            raise PortInUseError(
                f"port {spec.address} needed by {spec.name} is already in use: stop what holds "
                f"it (ss -ltnp 'sport = :{spec.port}') or choose another port in IVR_* settings"
            )


def http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def tcp_open(host: str, port: int) -> Callable[[], bool]:
    def check() -> bool:
        try:
            with socket.create_connection((host, port), timeout=1.0):
                return True
        except OSError:
            return False

    return check


WARMUP_METADATA = {"disclosure_done": True, "warmup": True}


def rasa_ready(base_url: str) -> Callable[[], bool]:
    """Ready = model loaded (``/status`` names it) and one warm-up turn answered. The warm-up
    is not a call (issue 13 item 7): its metadata says the disclosure is done and that it is a
    warm-up, so the actions speak no disclosure and write no evidence for ``warmup-…``."""

    def check() -> bool:
        try:
            status = httpx.get(f"{base_url}/status", timeout=1.0)
            if status.status_code != 200 or not status.json().get("model_file"):
                return False
            warm = httpx.post(
                f"{base_url}/webhooks/rest/webhook",
                json={
                    "sender": f"warmup-{uuid.uuid4().hex}",
                    "message": "你好",
                    "metadata": WARMUP_METADATA,
                },
                timeout=30.0,
            )
            return warm.status_code == 200
        except (httpx.HTTPError, ValueError):
            return False

    return check


def runtime_endpoints(action_port: int, run_dir: Path) -> Path:
    """A copy of ``endpoints.yml`` pointing the action endpoint at ``action_port``."""
    data = yaml.safe_load((REPO_ROOT / "endpoints.yml").read_text()) or {}
    data.setdefault("action_endpoint", {})["url"] = f"http://127.0.0.1:{action_port}/webhook"
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / f"endpoints-{action_port}.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def action_server_spec(
    port: int, timeout_s: float = 60.0, env: Mapping[str, str] | None = None
) -> ServiceSpec:
    """The rasa-sdk action server on 127.0.0.1 only: it writes DNC entries and consents, so it
    must never listen on a public interface (rasa-sdk binds 0.0.0.0 unless SANIC_HOST says)."""
    return ServiceSpec(
        name="actions",
        argv=[
            str(APP_PYTHON),
            "-m",
            "shell.action_server",
            "--actions",
            "actions",
            "-p",
            str(port),
        ],
        host="127.0.0.1",
        port=port,
        ready=http_ok(f"http://127.0.0.1:{port}/health"),
        timeout_s=timeout_s,
        env={**(os.environ if env is None else env), "SANIC_HOST": "127.0.0.1"},
    )


# One math thread per Rasa server: turns are small (one utterance), concurrency comes from the
# requests, and idle BLAS/OpenMP threads spinning on the shared cores cost ~1 ms of CPU per turn
# (bench/bench_bot.py: 6.4 -> 5.3 ms per turn at concurrency 8).
RASA_SERVER_THREADS = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "TF_INTRA_OP_PARALLELISM_THREADS": "1",  # Rasa's own TensorFlow settings
    "TF_INTER_OP_PARALLELISM_THREADS": "1",
}


def rasa_spec(
    model: Path, port: int, endpoints: Path, timeout_s: float, host: str = "127.0.0.1"
) -> ServiceSpec:
    argv = [
        str(RASA_VENV / "bin" / "python"),
        "-m",
        "bot.rasa_launch",  # `rasa run` with its hot-path fixes
        "run",
        "--enable-api",
        "-i",
        host,
        "-p",
        str(port),
        "-m",
        str(model),
        "--endpoints",
        str(endpoints),
        "--credentials",
        "credentials.yml",
    ]
    return ServiceSpec(
        name="rasa",
        argv=argv,
        host=host,
        port=port,
        ready=rasa_ready(f"http://{host}:{port}"),
        timeout_s=timeout_s,
        env={**rasa_env(), **RASA_SERVER_THREADS},
    )


def esl_server_spec(host: str, port: int) -> ServiceSpec:
    argv = [
        str(APP_PYTHON),
        "-m",
        "telephony",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
        "--handler",
        "flows.app:FlowCallHandler",
    ]
    return ServiceSpec(name="esl", argv=argv, host=host, port=port, ready=tcp_open(host, port))


def dialler_spec(host: str, port: int) -> ServiceSpec:
    """The outbound dialler (``ivr campaign run``); ready when its ``/healthz`` answers."""
    argv = [str(APP_PYTHON.parent / "ivr"), "campaign", "run"]
    return ServiceSpec(
        name="dialler",
        argv=argv,
        host=host,
        port=port,
        ready=http_ok(f"http://{host}:{port}/healthz"),
    )


def console_spec(host: str, port: int) -> ServiceSpec:
    argv = [
        str(APP_PYTHON),
        "-m",
        "uvicorn",
        "--factory",
        "console.app:build_app",
        "--host",
        host,
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return ServiceSpec(
        name="console",
        argv=argv,
        host=host,
        port=port,
        ready=http_ok(f"http://{host}:{port}/healthz"),
    )
