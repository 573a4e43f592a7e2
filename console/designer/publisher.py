"""Where published documents live for the running servers, and how they get there.

Flows and the prompt table are files in ``IVR_FLOWS_DIR`` (``<flow>.yaml``, ``prompts.yaml``),
the rules the file ``IVR_RULES_PATH``: the flow registry and the rules watcher of every running
server poll them and install a valid change for new calls. A publish writes the file atomically
(temporary file, fsync, rename). A file changed by hand is recorded as a ``disk`` version the
next time the console looks (:meth:`Publisher.sync`), so the history stays true.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import yaml

from console.designer.documents import ConflictError, DocumentStore, sha256
from flows.registry import PROMPTS_FILE, flow_files
from ivr.settings import Settings

PROMPTS_DOC = ("prompts", "prompts")


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _flow_name(path: Path) -> str | None:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    name = data.get("flow") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


class Publisher:
    def __init__(self, settings: Settings, store: DocumentStore, clock: Callable[[], datetime]):
        self.flows_dir = settings.flows_dir
        self.rules_path = settings.rules_path
        self.store = store
        self.clock = clock
        self._names: dict[Path, tuple[tuple[int, int], str | None]] = {}
        self._synced: tuple[tuple[str, int, int], ...] | None = None

    def _name_of(self, path: Path) -> str | None:
        """The flow name in ``path`` (parsed again only when the file changed)."""
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_size)
        cached = self._names.get(path)
        if cached is None or cached[0] != stamp:
            cached = (stamp, _flow_name(path))
            self._names[path] = cached
        return cached[1]

    def _disk_stamp(self) -> tuple[tuple[str, int, int], ...]:
        paths = [*flow_files(self.flows_dir), self.flows_dir / PROMPTS_FILE, self.rules_path]
        out = []
        for path in paths:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def path_of(self, kind: str, name: str) -> Path:
        if kind == "flow":
            for path in flow_files(self.flows_dir):
                if self._name_of(path) == name:
                    return path
            return self.flows_dir / f"{name}.yaml"
        if kind == "prompts":
            return self.flows_dir / PROMPTS_FILE
        return self.rules_path

    def write(self, kind: str, name: str, content: str) -> Path:
        path = self.path_of(kind, name)
        atomic_write(path, content)
        return path

    def on_disk(self) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        for path in flow_files(self.flows_dir):
            name = self._name_of(path)
            if name is not None:
                found[("flow", name)] = path.read_text(encoding="utf-8")
        prompts = self.flows_dir / PROMPTS_FILE
        if prompts.exists():
            found[PROMPTS_DOC] = prompts.read_text(encoding="utf-8")
        if self.rules_path.exists():
            found[("rules", self.rules_path.stem)] = self.rules_path.read_text(encoding="utf-8")
        return found

    def sync(self) -> list[tuple[str, str]]:
        """Record files that differ from their latest version as ``disk`` versions (nothing
        to do while no file changed since the last sync)."""
        stamp = self._disk_stamp()
        if stamp == self._synced:
            return []
        recorded = []
        for (kind, name), text in self.on_disk().items():
            latest = self.store.latest(kind, name)
            if latest is not None and latest.sha256 == sha256(text):
                continue
            with contextlib.suppress(ConflictError), self.store.engine.connect() as conn:
                self.store.add_version(
                    conn,
                    kind,
                    name,
                    content=text,
                    layout=latest.layout if latest else {},
                    source="disk",
                    author="disk",
                    approved_by=None,
                    change_id=None,
                    expected_latest=latest.version if latest else 0,
                    now=self.clock(),
                )
                conn.commit()
            recorded.append((kind, name))
        self._synced = stamp
        return recorded
