"""Service processes: a taken port gives one clear error; stopping leaves nothing behind."""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path

import pytest

from ivr.errors import DependencyUnavailableError
from shell.services import (
    ManagedProcess,
    PortInUseError,
    ServiceSpec,
    check_ports_free,
    free_port,
    free_port_block,
    tcp_open,
)


def test_port_in_use_is_reported_clearly() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        spec = ServiceSpec("rasa", ["true"], "127.0.0.1", port, ready=lambda: True)
        with pytest.raises(PortInUseError, match=f"127.0.0.1:{port} needed by rasa"):
            check_ports_free([spec])


def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    port = free_port()
    pid_file = tmp_path / "child.pid"
    # A service that starts a grandchild ignoring SIGTERM, then listens.
    script = (
        "import os, signal, socket, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', "
        "'import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        f"s = socket.socket(); s.bind(('127.0.0.1', {port})); s.listen()\n"
        "time.sleep(600)\n"
    )
    spec = ServiceSpec(
        "demo", [sys.executable, "-c", script], "127.0.0.1", port, ready=tcp_open("127.0.0.1", port)
    )
    process = ManagedProcess(spec, tmp_path)
    process.wait_ready()
    grandchild = int(pid_file.read_text())
    process.stop(timeout_s=2)
    assert not process.alive()
    with pytest.raises(ProcessLookupError):
        for _ in range(50):
            os.kill(grandchild, 0)
            time.sleep(0.1)


def test_service_that_dies_reports_its_log(tmp_path: Path) -> None:
    spec = ServiceSpec(
        "broken",
        [sys.executable, "-c", "import sys; print('boom: missing model'); sys.exit(3)"],
        "127.0.0.1",
        free_port(),
        ready=lambda: False,
        timeout_s=10,
    )
    process = ManagedProcess(spec, tmp_path)
    with pytest.raises(DependencyUnavailableError, match=r"exited with code 3(.|\n)*boom"):
        process.wait_ready()
    process.stop()


def test_service_that_never_gets_ready_times_out(tmp_path: Path) -> None:
    port = free_port()
    spec = ServiceSpec(
        "sleepy",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        "127.0.0.1",
        port,
        ready=lambda: False,
        timeout_s=1,
    )
    process = ManagedProcess(spec, tmp_path)
    try:
        with pytest.raises(DependencyUnavailableError, match="did not become ready"):
            process.wait_ready()
    finally:
        process.stop()


def test_free_port_blocks_are_consecutive_distinct_and_outside_the_ephemeral_range() -> None:
    floor = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    bases = [free_port_block(2) for _ in range(50)]
    taken = [p for base in bases for p in (base, base + 1)]
    assert len(set(taken)) == len(taken)  # never handed out twice
    assert all(p < floor for p in taken)  # outgoing connections cannot take them
    for base in bases[:5]:
        for port in (base, base + 1):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port))  # free when handed out
