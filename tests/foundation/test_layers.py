"""Import layering: the kernel (`ivr/`) at the bottom, the operator shell (`shell/`) at the top."""

from __future__ import annotations

import ast
from pathlib import Path

from ivr.settings import REPO_ROOT

OURS = {
    "ivr",
    "shell",
    "telephony",
    "bot",
    "actions",
    "compliance",
    "speech",
    "records",
    "qa",
    "campaigns",
    "console",
    "flows",
    "agents",
}


def imported_packages(path: Path) -> set[str]:
    """Top-level packages of ours that a module imports (at module level or inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found & OURS


def test_kernel_imports_nothing_of_ours_above_it() -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(imported_packages(path) - {"ivr"})
        for path in sorted((REPO_ROOT / "ivr").rglob("*.py"))
        if imported_packages(path) - {"ivr"}
    }
    assert offenders == {}


def test_only_command_line_edges_import_the_shell() -> None:
    """The shell is a composition root; inner packages never reach up into it, except the
    `ivr` subcommand modules (`cli.py`, `call_cli.py`) that the shell itself registers."""
    offenders = []
    for package in sorted(OURS - {"shell"}):
        for path in sorted((REPO_ROOT / package).rglob("*.py")):
            if path.name.endswith("cli.py"):
                continue
            if "shell" in imported_packages(path):
                offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []


def test_the_layer_check_sees_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import os\nfrom flows.model import Flow\n\ndef f():\n    import shell.cli\n")
    assert imported_packages(module) == {"flows", "shell"}


def test_the_orchestrator_reaches_qa_only_through_its_port() -> None:
    """flows' modules speak to quality inspection through ``flows.ports.SpeechInspection``;
    only the call composition root (``flows/app.py``) builds the QA adapters."""
    offenders = [
        str(path.relative_to(REPO_ROOT))
        for path in sorted((REPO_ROOT / "flows").rglob("*.py"))
        if path.name != "app.py" and "qa" in imported_packages(path)
    ]
    assert offenders == []
