"""A throwaway Redis Cluster on loopback ports, for tests and benchmarks (never production).

``LocalRedisCluster(workdir).start()`` runs N ``redis-server`` primaries (no persistence, no
replicas) with their cluster files under ``workdir``, joins them with ``redis-cli --cluster
create`` and waits until every node reports ``cluster_state:ok``; :meth:`stop` kills them all.
Every step is bounded.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import redis

from shell.services import free_port


class LocalRedisCluster:
    """A private 3-primary Redis Cluster on loopback ports (no persistence, no replicas), in
    ``workdir``; :meth:`stop` kills every node. Bounded: each step waits at most 30 s."""

    def __init__(self, workdir: Path, masters: int = 3) -> None:
        self.workdir = workdir
        self.ports = [free_port() for _ in range(masters)]
        self.procs: list[subprocess.Popen[bytes]] = []

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def start(self) -> None:
        for port in self.ports:
            node_dir = self.workdir / str(port)
            node_dir.mkdir(parents=True, exist_ok=True)
            self.procs.append(
                subprocess.Popen(
                    [
                        "redis-server",
                        "--port",
                        str(port),
                        "--bind",
                        "127.0.0.1",
                        "--cluster-enabled",
                        "yes",
                        "--cluster-config-file",
                        str(node_dir / "nodes.conf"),
                        "--dir",
                        str(node_dir),
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for port in self.ports:
            _wait(partial(_node_up, port), "cluster node did not start")
        subprocess.run(
            [
                "redis-cli",
                "--cluster",
                "create",
                *(f"127.0.0.1:{p}" for p in self.ports),
                "--cluster-replicas",
                "0",
                "--cluster-yes",
            ],
            check=True,
            capture_output=True,
            timeout=30,
        )
        for port in self.ports:
            _wait(partial(_cluster_ok, port), "cluster did not reach state ok")

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=10)
        self.procs = []


def _node_up(port: int) -> bool:
    return bool(redis.Redis(port=port).ping())


def _cluster_ok(port: int) -> bool:
    info = redis.Redis(port=port).cluster("INFO")
    return isinstance(info, dict) and info.get("cluster_state") == "ok"


def _wait(probe: Callable[[], object], what: str, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if probe():
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(what)
        time.sleep(0.05)
