"""A private redis-server (no persistence, optionally password-protected) that tests may stop
and start, for what the shared Redis on 127.0.0.1:6379 cannot show (a restart that loses the
data, a password)."""

from __future__ import annotations

import subprocess
from urllib.parse import quote

import redis

from helpers.wait import wait_until
from shell.services import free_port


class ThrowawayRedis:
    """``start()`` / ``stop()`` a redis-server on a free port; :attr:`url` reaches it."""

    def __init__(self, password: str | None = None) -> None:
        self.port = free_port()
        self.password = password
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        auth = f":{quote(self.password, safe='')}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise RuntimeError("throwaway redis-server is already running")  # would leak one
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--save", "", "--appendonly", "no"]
        if self.password:
            argv += ["--requirepass", self.password]
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self._answers, 10.0, what="throwaway redis-server up")

    def _answers(self) -> bool:
        try:
            return bool(redis.Redis(port=self.port, password=self.password).ping())
        except redis.ConnectionError:
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self.proc = None
