"""QA rules in a running process, on the one hot-reload machinery of ``compliance/reload.py``.

:class:`QaRulesHolder` keeps the installed :class:`qa.compiled.CompiledRules` versions and
answers ``at(now)`` (the newest already in effect; the first ever loaded also covers the time
before its ``effective_from``) and ``current`` (the newest installed). :class:`QaRulesWatcher`
polls the file; a changed text is read as bytes (read again if replaced meanwhile), parsed,
compiled and self-checked off to the side and installed in one assignment; a bad text leaves
the active rules in place, its issues are logged (rules files hold no customer data) and kept
in ``last_error``. The same version string with other content is refused: a result's rules
version names exactly one rule text (inv13). The poll loop runs supervised.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from pathlib import Path

from compliance.reload import FileWatcher, VersionHolder, load_versioned
from compliance.rules import RulesError, RulesIssue
from ivr.settings import REPO_ROOT
from qa.compiled import CompiledRules, compile_rules
from qa.model import QaModel

DEFAULT_RULES_PATH = REPO_ROOT / "qa" / "rules" / "default.yaml"


def parse_compiled(data: bytes, source: str, model: QaModel | None = None) -> CompiledRules:
    """A QA rules file's bytes parsed, compiled and self-checked (``model``: the learned second
    stage to run beside them); raises :class:`RulesError`."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RulesError([RulesIssue(source, None, "", f"not UTF-8: {exc.reason}")]) from None
    return compile_rules(text, source, model)


def load_rules_file(path: Path, model: QaModel | None = None) -> CompiledRules:
    """Read, parse, compile and self-check a QA rules file; raises :class:`RulesError`."""
    return load_versioned(path, partial(parse_compiled, model=model))


class QaRulesHolder(VersionHolder[CompiledRules]):
    """The installed QA rule versions; readers never see a half-installed state."""

    @property
    def current(self) -> CompiledRules:
        return self.latest

    def at(self, now: datetime) -> CompiledRules:
        return self.version_at(now)


class QaRulesWatcher(FileWatcher[CompiledRules]):
    """Polls one QA rules file and installs valid changes into a :class:`QaRulesHolder`."""

    what = "QA rules"

    def __init__(
        self,
        path: Path,
        holder: QaRulesHolder,
        poll_s: float = 2.0,
        model: QaModel | None = None,
    ) -> None:
        super().__init__(path, holder, partial(parse_compiled, model=model), poll_s)
