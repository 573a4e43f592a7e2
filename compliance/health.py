"""Health of the rules hot reload, for ``ivr doctor`` and the console's ``/healthz``.

:func:`rules_health` validates the rules file on disk and judges each live watcher on this
host's :class:`compliance.watch_status.StatusBoard` (polling on time, file accepted, crashes and
restarts), so that a watcher that stopped, or a file that was rejected while an older version
stays active, is visible instead of silent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from compliance.reload import load_rules_file
from compliance.rules import RulesError
from compliance.watch_status import StatusBoard, WatcherStatus

STALE_POLLS = 3
STALE_GRACE_S = 5.0


@dataclass(frozen=True, slots=True)
class WatcherHealth:
    status: WatcherStatus
    verdict: str  # ok | rejected | stale | stopped
    detail: str


def judge(status: WatcherStatus, now: datetime) -> WatcherHealth:
    """How one watcher is doing at ``now``."""
    crashes = (
        f"; restarted {status.restarts}x (last: {status.last_crash})" if status.restarts else ""
    )
    base = f"pid {status.pid}: version {status.active_version}{crashes}"
    if not status.running:
        return WatcherHealth(status, "stopped", f"{base}; the watcher is not running")
    limit = timedelta(seconds=STALE_POLLS * status.poll_s + STALE_GRACE_S)
    last = datetime.fromisoformat(status.last_poll_at) if status.last_poll_at else None
    if last is None or now - last > limit:
        since = status.last_poll_at or "never"
        return WatcherHealth(status, "stale", f"{base}; no poll since {since}")
    if status.rejected:
        why = "; ".join(status.rejected)
        return WatcherHealth(status, "rejected", f"{base} stays active; file rejected: {why}")
    return WatcherHealth(status, "ok", base)


@dataclass(frozen=True, slots=True)
class RulesHealth:
    """The rules file on disk and every live watcher of this host."""

    path: str
    file_version: str | None  # None: the file on disk is rejected
    file_issues: tuple[str, ...]
    watchers: tuple[WatcherHealth, ...]

    @property
    def ok(self) -> bool:
        return self.file_version is not None and all(w.verdict == "ok" for w in self.watchers)

    def as_dict(self) -> dict[str, object]:
        return {
            "status": "ok" if self.ok else "degraded",
            "path": self.path,
            "file_version": self.file_version,
            "file_issues": list(self.file_issues),
            "watchers": [
                {"pid": w.status.pid, "verdict": w.verdict, "detail": w.detail}
                for w in self.watchers
            ],
        }


def rules_health(path: Path, board: StatusBoard, now: datetime) -> RulesHealth:
    """Validate the rules file at ``path`` and judge every watcher on ``board``."""
    try:
        version: str | None = load_rules_file(path).rules.version
        issues: tuple[str, ...] = ()
    except RulesError as exc:
        version, issues = None, tuple(str(i) for i in exc.issues)
    watchers = tuple(judge(s, now) for s in board.read_all() if s.path == str(path))
    return RulesHealth(str(path), version, issues, watchers)
