"""What the fault soak starts, stops and breaks: a private PostgreSQL, the bot server (stub or
real Rasa + action server), a slowable listener (ASR) and the soak's clock.

Every process here is the soak's own (private data dir, loopback, ephemeral port) and is stopped
by ``close``; nothing shared (the Redis on 6379, the PostgreSQL on 5432) is ever touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from camp_support import RunningClock
from helpers.wait import wait_until

from shell.services import (
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)
from speech.ports import Transcript

HERE = Path(__file__).resolve().parent


def _pg_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), key=lambda p: p.parts[-3])
    if not found:
        raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    return found[-1].parent


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` in ``root``, trust auth, 127.0.0.1 on a free
    port), so the soak can restart it; ``close`` stops it and removes its files."""

    def __init__(self) -> None:
        # its own directory under /tmp: pytest's tmp dirs are private to root (mode 0700)
        self.root = Path(tempfile.mkdtemp(prefix="ivr-soak-pg-"))
        self.data = self.root / "pgdata"
        self.port = free_port()
        self.bin = _pg_bin()
        self.restarts = 0
        # initdb and postgres refuse to run as root: run them as the postgres user then
        self._as: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str, timeout_s: float = 60) -> None:
        subprocess.run(
            [*self._as, *argv], check=True, timeout=timeout_s,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    def start(self) -> None:
        if not self.data.exists():
            if self._as:
                shutil.chown(self.root, "postgres")
            self._run(str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
                      "-U", "postgres", "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c max_connections=300 -c shared_buffers=64MB"
        )
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", options, "-w",
                  "-t", "60", "-l", str(self.root / "pg.log"), "start")  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """``fast`` is a clean shutdown; ``immediate`` is a crash (recovery from the WAL)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


class BotServer(Protocol):
    """The dialogue side the soak kills: ``url`` stays the same across ``kill``/``start``."""

    url: str

    def start(self) -> None: ...

    def kill(self) -> None: ...

    def close(self) -> None: ...


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


class StubBot:
    """``tests/soak/stub_bot.py`` in its own process (NLU, REST channel, CRM risk endpoint)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("stub bot already running")
        self.proc = subprocess.Popen(
            [sys.executable, str(HERE / "stub_bot.py"), str(self.port)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_until(lambda: _answers(self.url + "/"), 30.0, what="stub bot up")

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None

    def close(self) -> None:
        self.kill()


class RealRasa:
    """The trained model on a real Rasa server plus the real action server (``make soak``
    with ``--bot rasa``); ``kill`` SIGKILLs both process groups, ``start`` brings both back on
    the same ports."""

    def __init__(self, run_dir: Path, action_env: dict[str, str]) -> None:
        from shell import rasa_model

        self.model_path = rasa_model.ensure_model().path
        self.run_dir = run_dir
        self.action_env = action_env
        self.action_port, self.rasa_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.rasa_port}"
        self._procs: list[ManagedProcess] = []

    def start(self) -> None:
        actions = ManagedProcess(
            action_server_spec(self.action_port, env=self.action_env), self.run_dir
        )
        endpoints = runtime_endpoints(self.action_port, self.run_dir)
        rasa = ManagedProcess(rasa_spec(self.model_path, self.rasa_port, endpoints, 300.0),
                              self.run_dir)  # fmt: skip
        self._procs = [actions, rasa]
        actions.wait_ready()
        rasa.wait_ready()

    def kill(self) -> None:
        for proc in self._procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.proc.pid, signal.SIGKILL)
            proc.stop()
        self._procs = []

    def close(self) -> None:
        for proc in self._procs:
            proc.stop()
        self._procs = []


class Listener(Protocol):
    async def transcribe(self, wav: Path) -> Transcript: ...


@dataclass
class SlowListener:
    """The ASR with added latency while :attr:`delay_s` is set (the "slow ASR" fault)."""

    inner: Listener
    delay_s: float = 0.0
    slowed: int = 0

    async def transcribe(self, wav: Path) -> Transcript:
        if self.delay_s > 0:
            self.slowed += 1
            await asyncio.sleep(self.delay_s)
        return await self.inner.transcribe(wav)


class SoakClock(RunningClock):
    """Time as the product sees it: ``start`` plus the monotonic time since, with jumps
    (:meth:`jump`). The loop clock (``loop.time()``: the switch's originate log) maps back to
    soak time with :meth:`at`, so the audit judges every originate at its own instant."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self._segments: list[tuple[float, datetime]] = [(time.monotonic(), start)]

    @property
    def now(self) -> datetime:
        return self.at(time.monotonic())

    @now.setter
    def now(self, value: datetime) -> None:
        self._segments = [*getattr(self, "_segments", []), (time.monotonic(), value)]

    def at(self, mono: float) -> datetime:
        base_mono, base = self._segments[0]
        for seg_mono, seg in self._segments:
            if seg_mono <= mono:
                base_mono, base = seg_mono, seg
        return base + timedelta(seconds=mono - base_mono)

    def jump(self, to: datetime) -> float:
        """From now on the clock reads ``to`` (and runs on); returns the monotonic instant."""
        self.now = to
        return self._segments[-1][0]
