"""QA rules in a running process: the holder (one-assignment swap) and the file watcher (adapter).

:class:`QaRulesHolder` keeps the installed :class:`qa.compiled.CompiledRules` versions and
answers ``at(now)`` (the newest already in effect; the first ever loaded also covers the time
before its ``effective_from``) and ``current`` (the newest installed). :class:`QaRulesWatcher`
polls the file; a changed text is parsed, compiled and self-checked off to the side and
installed in one assignment; a bad text leaves the active rules in place, its issues are
logged (rules files hold no customer data) and kept in ``last_error``. The same version string
with other content is refused: a result's rules version names exactly one rule text (inv13).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from datetime import datetime
from pathlib import Path

from compliance.rules import RulesError, RulesIssue
from ivr.settings import REPO_ROOT
from qa.compiled import CompiledRules, compile_rules

log = logging.getLogger(__name__)
DEFAULT_RULES_PATH = REPO_ROOT / "qa" / "rules" / "default.yaml"
_KEEP = 16


def load_rules_file(path: Path) -> CompiledRules:
    """Read, parse, compile and self-check a QA rules file; raises :class:`RulesError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([RulesIssue(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    return compile_rules(text, str(path))


class QaRulesHolder:
    """The installed QA rule versions; readers never see a half-installed state."""

    def __init__(self, initial: CompiledRules) -> None:
        self._versions: tuple[CompiledRules, ...] = (initial,)

    @property
    def current(self) -> CompiledRules:
        return self._versions[-1]

    def at(self, now: datetime) -> CompiledRules:
        versions = self._versions
        i = bisect.bisect_right([v.rules.effective_from for v in versions], now)
        return versions[max(i - 1, 0)]

    def install(self, compiled: CompiledRules) -> bool:
        """Add a version; ``False`` if already installed. Raises on a version clash."""
        for v in self._versions:
            if v.version == compiled.version:
                if v.digest == compiled.digest:
                    return False
                raise RulesError(
                    [
                        RulesIssue(
                            compiled.source,
                            None,
                            "version",
                            f"version {compiled.version!r} is already loaded with other "
                            "content; give changed rules a new version",
                        )
                    ]
                )
        merged = sorted((*self._versions, compiled), key=lambda v: v.rules.effective_from)
        self._versions = tuple(merged[-_KEEP:])
        return True


class QaRulesWatcher:
    """Polls one QA rules file and installs valid changes into a :class:`QaRulesHolder`."""

    def __init__(self, path: Path, holder: QaRulesHolder, poll_s: float = 2.0) -> None:
        self.path = path
        self.holder = holder
        self.poll_s = poll_s
        self.last_error: RulesError | None = None
        self._stamp = self._stat()
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> tuple[int, int] | None:
        try:
            st = self.path.stat()
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def check_once(self) -> CompiledRules | None:
        """Reload if the file changed; returns the newly installed version, if any."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            compiled = load_rules_file(self.path)
            installed = self.holder.install(compiled)
        except RulesError as exc:
            self.last_error = exc
            for issue in exc.issues:
                log.error("QA rules rejected, previous version stays active: %s", issue)
            return None
        self.last_error = None
        if installed:
            log.info("QA rules version %s installed", compiled.version)
            return compiled
        return None

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            try:
                await asyncio.to_thread(self.check_once)
            except Exception:  # supervised: a watcher never dies silently
                log.exception("QA rules watcher: check failed; retrying")

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
