"""`ivr run` (what `make run` starts): every service comes up and reports ready, Ctrl-C stops
everything and leaves no process behind; a taken port fails fast with one clear line."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from helpers.wait import wait_until

from ivr.settings import REPO_ROOT
from shell.services import free_port, free_port_block

pytestmark = pytest.mark.slow

IVR = str(Path(sys.executable).parent / "ivr")


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    # two Rasa servers (the default) listen on consecutive ports
    ports = {"RASA": free_port_block(2)}
    ports.update({name: free_port() for name in ("ACTION", "ESL", "CONSOLE")})
    env.update(
        IVR_DATA_DIR=str(tmp_path),
        IVR_RASA_URL=f"http://127.0.0.1:{ports['RASA']}",
        IVR_ACTION_SERVER_PORT=str(ports["ACTION"]),
        IVR_ESL_PORT=str(ports["ESL"]),
        IVR_CONSOLE_PORT=str(ports["CONSOLE"]),
    )
    return env


def _descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-eo", "pid=,ppid="], capture_output=True, text=True, check=True)
    children: dict[int, list[int]] = {}
    for line in out.stdout.splitlines():
        child, parent = (int(x) for x in line.split())
        children.setdefault(parent, []).append(child)
    found, stack = set(), [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            found.add(child)
            stack.append(child)
    return found


def _running(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (a container's init may not reap them)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_run_starts_everything_and_ctrl_c_leaves_nothing(tmp_path: Path) -> None:
    env = _env(tmp_path)
    env["IVR_RASA_PROCESSES"] = "2"  # the default: a second Rasa server on the next port
    proc = subprocess.Popen(
        [IVR, "run"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C stops everything" in line:
                break
        output = "".join(lines)
        assert "Ctrl-C stops everything" in output, output
        for name in ("rasa", "rasa-2", "actions", "esl", "console"):
            assert f"  {name} " in output
        second_rasa = (
            env["IVR_RASA_URL"].rsplit(":", 1)[0]
            + ":"
            + str(int(env["IVR_RASA_URL"].rsplit(":", 1)[1]) + 1)
        )
        assert httpx.get(f"{second_rasa}/status", timeout=5).status_code == 200
        console = f"http://127.0.0.1:{env['IVR_CONSOLE_PORT']}"
        assert httpx.get(console + "/healthz", timeout=5).json()["status"] == "ok"
        # the first start created the console's first admin and printed its password once
        password = output.split("first admin 'admin' created with password ")[1].split()[0]
        signed_in = httpx.post(
            console + "/api/v1/auth/token",
            data={"grant_type": "password", "username": "admin", "password": password},
            timeout=30,
        )
        assert signed_in.status_code == 200, signed_in.text
        with socket.create_connection(("127.0.0.1", int(env["IVR_ESL_PORT"])), timeout=5):
            pass
        children = _descendants(proc.pid)
        assert len(children) >= 5
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(60)
    assert proc.returncode == 0

    def left_behind() -> list[int]:
        return [pid for pid in children if _running(pid)]

    with contextlib.suppress(AssertionError):
        wait_until(lambda: not left_behind(), 5.0)  # the last ones may still be exiting
    assert left_behind() == [], f"left behind: {left_behind()}"


def test_taken_port_fails_fast_with_one_clear_line(tmp_path: Path) -> None:
    env = _env(tmp_path)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", int(env["IVR_ESL_PORT"])))
        holder.listen()
        result = subprocess.run(
            [IVR, "run"], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 1
    assert f"port 127.0.0.1:{env['IVR_ESL_PORT']} needed by esl is already in use" in result.stdout
