"""The board where each process's rules watcher publishes its state (read by
:mod:`compliance.health` for ``ivr doctor`` and ``/healthz``).

Every process that watches the rules file publishes its :class:`WatcherStatus` after each poll
to a :class:`StatusBoard`: one small JSON file per process under
``<data_dir>/run/rules-watchers/`` (written to a temporary name, then renamed). Statuses hold no
customer data.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class WatcherStatus:
    """One process's rules watcher after its latest poll."""

    pid: int
    path: str
    poll_s: float
    running: bool
    restarts: int
    last_crash: str | None
    last_poll_at: str | None  # ISO 8601, UTC
    active_version: str
    active_sha256: str
    rejected: tuple[str, ...]  # issues of the file on disk when it was rejected, else ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WatcherStatus:
        """Parse a published status; raises KeyError, TypeError or ValueError if malformed."""

        def text(key: str) -> str | None:
            value = data.get(key)
            return None if value is None else str(value)

        return cls(
            pid=int(data["pid"]),
            path=str(data["path"]),
            poll_s=float(data["poll_s"]),
            running=bool(data["running"]),
            restarts=int(data["restarts"]),
            last_crash=text("last_crash"),
            last_poll_at=text("last_poll_at"),
            active_version=str(data["active_version"]),
            active_sha256=str(data["active_sha256"]),
            rejected=tuple(str(i) for i in data.get("rejected") or ()),
        )


class StatusBoard:
    """The per-host board of watcher statuses (one file per process id)."""

    def __init__(self, directory: Path, pid: int | None = None) -> None:
        self.directory = directory
        self.pid = os.getpid() if pid is None else pid

    @property
    def own_file(self) -> Path:
        return self.directory / f"{self.pid}.json"

    def publish(self, status: WatcherStatus) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(status.as_dict(), out)
        os.replace(tmp, self.own_file)

    def withdraw(self) -> None:
        self.own_file.unlink(missing_ok=True)

    def read_all(self) -> list[WatcherStatus]:
        """Statuses of live processes (files of processes that are gone are removed)."""
        out = []
        for path in sorted(self.directory.glob("*.json")):
            try:
                status = WatcherStatus.from_dict(json.loads(path.read_text(encoding="utf-8")))
            except (OSError, KeyError, ValueError, TypeError):
                continue  # being replaced, or not ours
            if not _alive(status.pid):
                path.unlink(missing_ok=True)
                continue
            out.append(status)
        return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def board_for(data_dir: Path) -> StatusBoard:
    """This host's board under ``data_dir`` (``IVR_DATA_DIR``)."""
    return StatusBoard(data_dir / "run" / "rules-watchers")
