"""Versioned flows with hot reload: a changed file is validated and, if valid, used by new calls.

A :class:`FlowVersion` is immutable; a call holds the version it started with, so reloads never
change a call in progress. An invalid change is rejected with its issues and the previous version
stays active. The version id is the content hash of the flow file and the prompt table.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from pydantic import ValidationError

from flows.model import Flow, Prompt, PromptTable
from flows.validate import FlowIssue, FlowReport, validate_text
from ivr.errors import ConfigError
from ivr.settings import REPO_ROOT
from ivr.yaml_lines import YamlSyntaxError, line_for, parse_located

log = logging.getLogger(__name__)

DEFAULT_FLOWS_DIR = REPO_ROOT / "ivr_flows"
PROMPTS_FILE = "prompts.yaml"


@dataclass(frozen=True, slots=True)
class FlowVersion:
    """One validated flow, frozen, with the prompt table it was validated against."""

    name: str
    version: str
    file: Path
    flow: Flow
    prompts: Mapping[str, Prompt]


def load_prompt_table(path: Path) -> tuple[dict[str, Prompt], list[FlowIssue]]:
    """The shared prompt table, or the issues that make it invalid."""
    if not path.exists():
        return {}, [FlowIssue(str(path), 1, "missing", "prompt table not found")]
    text = path.read_text(encoding="utf-8")
    try:
        located = parse_located(text)
        table = PromptTable.model_validate(located.data)
    except YamlSyntaxError as exc:
        return {}, [FlowIssue(str(path), exc.line, "yaml", str(exc))]
    except ValidationError as exc:
        return {}, [
            FlowIssue(str(path), line_for(located, e["loc"]), "schema", e["msg"])
            for e in exc.errors()
        ]
    return dict(table.prompts), []


def flow_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.yaml") if p.name != PROMPTS_FILE)


def validate_path(path: Path) -> list[FlowReport]:
    """Validate one flow file or every flow in a directory (with its prompt table)."""
    directory = path if path.is_dir() else path.parent
    prompts, prompt_issues = load_prompt_table(directory / PROMPTS_FILE)
    if prompt_issues:
        return [FlowReport(str(directory / PROMPTS_FILE), None, tuple(prompt_issues))]
    files = flow_files(path) if path.is_dir() else [path]
    return [validate_text(f.read_text(encoding="utf-8"), str(f), prompts) for f in files]


class FlowRegistry:
    """The active version of every flow in a directory; :meth:`reload` picks up changes."""

    def __init__(self, directory: Path = DEFAULT_FLOWS_DIR) -> None:
        self.directory = directory
        self._active: dict[str, FlowVersion] = {}
        self._seen: dict[Path, str] = {}
        self.rejected: dict[str, tuple[FlowIssue, ...]] = {}
        self.reload()
        if not self._active:
            raise ConfigError(f"no valid flow in {directory}: {self.rejected}")

    def get(self, name: str) -> FlowVersion:
        try:
            return self._active[name]
        except KeyError:
            raise ConfigError(f"no flow named {name!r} in {self.directory}") from None

    @property
    def active(self) -> Mapping[str, FlowVersion]:
        return MappingProxyType(self._active)

    def reload(self) -> list[str]:
        """Re-read changed files; return the names whose active version changed."""
        prompt_path = self.directory / PROMPTS_FILE
        prompts, prompt_issues = load_prompt_table(prompt_path)
        if prompt_issues:
            self.rejected[PROMPTS_FILE] = tuple(prompt_issues)
            log.error("prompt table rejected (%d issues); active flows kept", len(prompt_issues))
            return []
        self.rejected.pop(PROMPTS_FILE, None)
        table_hash = hashlib.sha256(prompt_path.read_bytes()).hexdigest()
        changed: list[str] = []
        for path in flow_files(self.directory):
            raw = path.read_bytes()
            version = hashlib.sha256(raw + table_hash.encode()).hexdigest()[:12]
            if self._seen.get(path) == version:
                continue
            self._seen[path] = version
            report = validate_text(raw.decode("utf-8"), str(path), prompts)
            if not report.ok or report.flow is None:
                self.rejected[path.name] = report.issues
                log.error("flow file %s rejected: %d issue(s)", path.name, len(report.issues))
                continue
            self.rejected.pop(path.name, None)
            name = report.flow.flow
            self._active[name] = FlowVersion(
                name, version, path, report.flow, MappingProxyType(dict(prompts))
            )
            changed.append(name)
            log.info("flow %s now at version %s", name, version)
        return changed
