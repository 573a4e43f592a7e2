"""Versioned rules in a running process: the holder (atomic swap) and the file watcher.

:class:`RulesHolder` keeps the loaded versions ordered by ``effective_from`` and answers
``at(now)``: the newest version already in effect (the first version ever loaded also covers the
time before its ``effective_from``: there is nothing older). :class:`RulesWatcher` polls the
rules file; a changed file is parsed and validated off to the side and installed in one
assignment; an invalid file leaves the active rules untouched and its errors are logged (rules
files hold no customer data) and kept in ``last_error``. The same version string with different
content is rejected: a decision's rules version must name exactly one rule text.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from compliance.rules import RulesError, RuleSet, RulesIssue, parse_rules
from ivr.evidence import EvidenceKind, EvidenceSink

log = logging.getLogger(__name__)
_KEEP_VERSIONS = 16


@dataclass(frozen=True, slots=True)
class LoadedRules:
    rules: RuleSet
    digest: str  # sha256 of the file text
    source: str


def load_rules_file(path: Path) -> LoadedRules:
    """Read and validate a rules file; raises :class:`RulesError`."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError([RulesIssue(str(path), None, "", f"cannot read: {exc.strerror}")]) from exc
    rules = parse_rules(text, str(path))
    return LoadedRules(rules, hashlib.sha256(text.encode()).hexdigest(), str(path))


class RulesHolder:
    """The loaded rule versions; readers never see a half-installed state."""

    def __init__(self, initial: LoadedRules) -> None:
        self._versions: tuple[LoadedRules, ...] = (initial,)

    @property
    def latest(self) -> LoadedRules:
        return max(self._versions, key=lambda v: v.rules.effective_from)

    def versions(self) -> tuple[LoadedRules, ...]:
        return self._versions

    def at(self, now: datetime) -> RuleSet:
        versions = self._versions
        keys = [v.rules.effective_from for v in versions]
        i = bisect.bisect_right(keys, now)
        return versions[max(i - 1, 0)].rules

    def install(self, loaded: LoadedRules) -> bool:
        """Add a version; ``False`` if it was already loaded. Raises on a version clash."""
        for v in self._versions:
            if v.rules.version == loaded.rules.version:
                if v.digest == loaded.digest:
                    return False
                raise RulesError(
                    [
                        RulesIssue(
                            loaded.source,
                            None,
                            "version",
                            f"version {loaded.rules.version!r} is already loaded with different "
                            "content; give changed rules a new version",
                        )
                    ]
                )
        merged = sorted((*self._versions, loaded), key=lambda v: v.rules.effective_from)
        self._versions = tuple(merged[-_KEEP_VERSIONS:])
        return True


class RulesWatcher:
    """Polls one rules file and installs valid changes into a :class:`RulesHolder`."""

    def __init__(
        self,
        path: Path,
        holder: RulesHolder,
        evidence: EvidenceSink | None = None,
        poll_s: float = 2.0,
    ) -> None:
        self.path = path
        self.holder = holder
        self.evidence = evidence
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

    async def check_once(self) -> LoadedRules | None:
        """Reload if the file changed; returns the newly installed rules, if any."""
        stamp = self._stat()
        if stamp == self._stamp:
            return None
        self._stamp = stamp
        try:
            loaded = load_rules_file(self.path)
            installed = self.holder.install(loaded)
        except RulesError as exc:
            self.last_error = exc
            for issue in exc.issues:
                log.error("rules rejected, previous version stays active: %s", issue)
            return None
        self.last_error = None
        if not installed:
            return None
        log.info(
            "rules version %s installed (effective %s)",
            loaded.rules.version,
            loaded.rules.effective_from.isoformat(),
        )
        if self.evidence is not None:
            try:
                await self.evidence.append(
                    EvidenceKind.RULES_RELOADED,
                    call_id=None,
                    payload={
                        "version": loaded.rules.version,
                        "effective_from": loaded.rules.effective_from.isoformat(),
                        "sha256": loaded.digest,
                        "source": loaded.source,
                    },
                )
            except Exception:
                log.exception("rules %s reloaded but evidence append failed", loaded.rules.version)
        return loaded

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.poll_s)
            await self.check_once()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
