"""Versioned rules in a running process: the holder (atomic swap) and the supervised watcher.

The machinery is generic over any versioned rules document (:class:`Versioned`: a version,
an ``effective_from``, the file's digest and source), so the compliance rules and the QA rules
(``qa/reload.py``) share one holder (:class:`VersionHolder`) and one file watcher
(:class:`FileWatcher`); :class:`RulesHolder` and :class:`RulesWatcher` are the compliance ones.

:class:`RulesHolder` keeps the loaded versions ordered by ``effective_from`` and answers
``at(now)``: the newest version already in effect (the first version ever loaded also covers the
time before its ``effective_from``: there is nothing older). :class:`RulesWatcher` polls the
rules file; a changed file is read as bytes, parsed and validated off to the side and installed
in one assignment. Whatever is wrong with a file (not UTF-8, binary, a YAML error or tag, empty,
invalid, replaced while it was read) is a :class:`RulesError` naming the file and the reason:
the active rules stay untouched, the issues are logged (rules files hold no customer data) and
kept in ``last_error``, and a later valid version still installs. The same version string with
different content is rejected: a decision's rules version must name exactly one rule text.

The poll loop runs under :class:`ivr.supervise.Supervised` (a crash is logged, counted and the
loop restarted) and each poll publishes the watcher's :class:`WatcherStatus` to a
:class:`compliance.watch_status.StatusBoard`, which ``ivr doctor`` and ``/healthz`` read.
"""

from __future__ import annotations

import asyncio
import bisect
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar

from compliance.rules import RulesError, RuleSet, RulesIssue, parse_rules
from compliance.watch_status import StatusBoard, WatcherStatus
from ivr.evidence import EvidenceKind, EvidenceSink
from ivr.supervise import Supervised

log = logging.getLogger(__name__)
_KEEP_VERSIONS = 16
_READ_ATTEMPTS = 3
Stamp = tuple[int, int, int, int]  # inode, mtime ns, ctime ns, size


class Versioned(Protocol):
    """A rules document as installed: what the holder and watcher need to know of it."""

    @property
    def version(self) -> str: ...
    @property
    def effective_from(self) -> datetime: ...
    @property
    def digest(self) -> str: ...
    @property
    def source(self) -> str: ...


V = TypeVar("V", bound=Versioned)
Parse = Callable[[bytes, str], V]  # (file bytes, source) -> the document; raises RulesError


class _RuleVersion(Protocol):
    @property
    def version(self) -> str: ...
    @property
    def effective_from(self) -> datetime: ...


class VersionOfRules:
    """Mixin of an installed document holding its parsed ``rules``: their version and
    ``effective_from`` (for :class:`Versioned`)."""

    __slots__ = ()
    rules: _RuleVersion

    @property
    def version(self) -> str:
        return self.rules.version

    @property
    def effective_from(self) -> datetime:
        return self.rules.effective_from


@dataclass(frozen=True, slots=True)
class LoadedRules(VersionOfRules):
    rules: RuleSet
    digest: str  # sha256 of the file bytes
    source: str


class FileChangedWhileReadError(RulesError):
    """The file was replaced or rewritten while it was being read; read it again."""


def stamp_of(path: Path) -> Stamp | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)


def read_versioned(path: Path, parse: Parse[V]) -> tuple[V, Stamp | None]:
    """Read a rules file once and ``parse`` its bytes; returns the document and the file's
    stamp. Raises :class:`RulesError` for every problem (:class:`FileChangedWhileReadError`
    when the file changed between the stat before and the stat after reading it)."""
    before = stamp_of(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        why = f"cannot read: {exc.strerror or type(exc).__name__}"
        raise RulesError([RulesIssue(str(path), None, "", why, "rules.unreadable")]) from None
    after = stamp_of(path)
    if before is None or before != after or after[3] != len(data):
        raise FileChangedWhileReadError(
            [RulesIssue(str(path), None, "", "the file changed while it was read", "rules.changed")]
        )
    return parse(data, str(path)), after


def load_versioned(path: Path, parse: Parse[V]) -> V:
    """Read and parse a rules file (read again if it was replaced meanwhile); raises
    :class:`RulesError`."""
    for attempt in range(_READ_ATTEMPTS):
        try:
            return read_versioned(path, parse)[0]
        except FileChangedWhileReadError:
            if attempt == _READ_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def parse_loaded(data: bytes, source: str) -> LoadedRules:
    """The compliance rules of a file's bytes (:func:`compliance.rules.parse_rules`)."""
    return LoadedRules(parse_rules(data, source), hashlib.sha256(data).hexdigest(), source)


def read_rules(path: Path) -> tuple[LoadedRules, Stamp | None]:
    """Read and validate a compliance rules file once (see :func:`read_versioned`)."""
    return read_versioned(path, parse_loaded)


def load_rules_file(path: Path) -> LoadedRules:
    """Read and validate a compliance rules file; raises :class:`RulesError`."""
    return load_versioned(path, parse_loaded)


class VersionHolder(Generic[V]):
    """The loaded versions of one rules document; readers never see a half-installed state."""

    def __init__(self, initial: V) -> None:
        self._versions: tuple[V, ...] = (initial,)

    @property
    def latest(self) -> V:
        """The installed version that takes effect last."""
        return self._versions[-1]

    def versions(self) -> tuple[V, ...]:
        return self._versions

    def version_at(self, now: datetime) -> V:
        """The newest version already in effect at ``now`` (the first ever loaded also
        covers the time before its ``effective_from``: there is nothing older)."""
        versions = self._versions
        i = bisect.bisect_right([v.effective_from for v in versions], now)
        return versions[max(i - 1, 0)]

    def install(self, loaded: V) -> bool:
        """Add a version; ``False`` if it was already loaded. Raises on a version clash."""
        for v in self._versions:
            if v.version == loaded.version:
                if v.digest == loaded.digest:
                    return False
                raise RulesError(
                    [
                        RulesIssue(
                            loaded.source,
                            None,
                            "version",
                            f"version {loaded.version!r} is already loaded with different "
                            "content; give changed rules a new version",
                            "rules.version_clash",
                            {"version": loaded.version},
                        )
                    ]
                )
        merged = sorted((*self._versions, loaded), key=lambda v: v.effective_from)
        self._versions = tuple(merged[-_KEEP_VERSIONS:])
        return True


class RulesHolder(VersionHolder[LoadedRules]):
    """The compliance rule versions; ``at(now)`` is the rule set in effect."""

    def at(self, now: datetime) -> RuleSet:
        return self.version_at(now).rules


class FileWatcher(Generic[V]):
    """Polls one rules file and installs valid changes into a :class:`VersionHolder`.

    :meth:`check_once` reads the file off the event loop when its stamp changed; every problem
    of the file itself is kept in :attr:`last_error` (the active version stays); the poll loop
    runs supervised (:class:`ivr.supervise.Supervised`). Subclasses add what an installed
    version means to them (:meth:`installed`) and where the watcher's state goes
    (:meth:`publish`).
    """

    what = "rules"

    def __init__(
        self, path: Path, holder: VersionHolder[V], parse: Parse[V], poll_s: float = 2.0
    ) -> None:
        self.path = path
        self.holder = holder
        self.parse = parse
        self.poll_s = poll_s
        self.last_error: RulesError | None = None
        self.last_poll_at: datetime | None = None
        self._stamp = stamp_of(path)
        self._loop = Supervised(f"{self.what} watcher", self.run, backoff_s=min(poll_s, 0.5))

    async def check_once(self) -> V | None:
        """Reload if the file changed; returns the newly installed version, if any.

        Raises only for a defect (the supervisor restarts the loop): every problem of the file
        itself is kept in :attr:`last_error`.
        """
        self.last_poll_at = datetime.now(UTC)
        stamp = stamp_of(self.path)
        if stamp == self._stamp:
            return None
        try:
            loaded, read_stamp = await asyncio.to_thread(read_versioned, self.path, self.parse)
            installed = self.holder.install(loaded)
        except FileChangedWhileReadError as exc:
            self.last_error = exc  # the stamp is not recorded: the next poll reads again
            log.warning("%s file %s changed while it was read; reading again", self.what, self.path)
            return None
        except RulesError as exc:
            self._stamp = stamp
            self.last_error = exc
            for issue in exc.issues:
                log.error("%s rejected, previous version stays active: %s", self.what, issue)
            return None
        self._stamp = read_stamp
        self.last_error = None
        if not installed:
            return None
        log.info(
            "%s version %s installed (effective %s)",
            self.what,
            loaded.version,
            loaded.effective_from.isoformat(),
        )
        await self.installed(loaded)
        return loaded

    async def installed(self, loaded: V) -> None:
        """Called once per newly installed version (nothing by default)."""

    def publish(self) -> None:
        """Where the watcher's state goes after each poll (nowhere by default)."""

    async def run(self) -> None:
        """The poll loop (supervised by :meth:`start`)."""
        while True:
            await self.check_once()
            self.publish()
            await asyncio.sleep(self.poll_s)

    def start(self) -> None:
        self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()


class RulesWatcher(FileWatcher[LoadedRules]):
    """The compliance rules watcher: each installed version is ``rules_reloaded`` evidence and
    each poll publishes the watcher's :class:`WatcherStatus` to the status board."""

    def __init__(
        self,
        path: Path,
        holder: RulesHolder,
        evidence: EvidenceSink,
        poll_s: float = 2.0,
        *,
        status: StatusBoard | None,
    ) -> None:
        super().__init__(path, holder, parse_loaded, poll_s)
        self.rules_holder = holder
        self.evidence = evidence
        self.status_board = status

    async def installed(self, loaded: LoadedRules) -> None:
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

    def status(self) -> WatcherStatus:
        state = self._loop.state
        now = datetime.now(UTC)
        active = self.holder.version_at(now)
        return WatcherStatus(
            pid=os.getpid(),
            path=str(self.path),
            poll_s=self.poll_s,
            running=state.running,
            restarts=state.restarts,
            last_crash=state.last_crash,
            last_poll_at=self.last_poll_at.isoformat() if self.last_poll_at else None,
            active_version=active.rules.version,
            active_sha256=active.digest,
            rejected=tuple(str(i) for i in self.last_error.issues) if self.last_error else (),
        )

    def publish(self) -> None:
        if self.status_board is not None:
            self.status_board.publish(self.status())

    async def stop(self) -> None:
        await super().stop()
        if self.status_board is not None:
            self.status_board.withdraw()
