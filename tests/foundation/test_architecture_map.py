"""ARCHITECTURE.md's concept-to-path map lists every app module, and nothing that does not exist.

A row's path cell names files, directories (a row may name a directory: everything below it is
covered) or globs, in backticks; remarks in parentheses and backticked words that are not paths
(setting names, ``Class.method``) are not checked.
"""

from __future__ import annotations

import re
from pathlib import Path

from ivr.settings import REPO_ROOT

MAP_HEADING = "## Concept-to-path map"
APP_PACKAGES = re.search(r"^APP_PACKAGES := (.+)$", (REPO_ROOT / "Makefile").read_text(), re.M)
FILE_ENDINGS = re.compile(
    r"\.(py|pyi|yml|yaml|toml|txt|sh|md|json|cfg|ini|tsv|wav|esl|html|css|ts|tsx|js|mako|xml)$"
)


def map_rows(markdown: str) -> list[str]:
    """The path cells of the map's table rows."""
    section = markdown.split(MAP_HEADING, 1)[1].split("\n## ", 1)[0]
    cells = []
    for line in section.splitlines():
        if line.startswith("|") and not re.match(r"\|\s*(---|concept\s*\|)", line):
            cells.append(line.strip().strip("|").rsplit("|", 1)[-1])
    return cells


def mapped_paths(markdown: str) -> list[str]:
    """Every path the map names (outside parenthesised remarks)."""
    paths = []
    for cell in map_rows(markdown):
        previous = None
        while previous != cell:
            previous, cell = cell, re.sub(r"\([^()]*\)", "", cell)
        for token in re.findall(r"`([^`\s]+)`", cell):
            if "/" in token or FILE_ENDINGS.search(token):
                paths.append(token)
    return paths


def is_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def missing(root: Path, paths: list[str]) -> list[str]:
    return [
        p
        for p in paths
        if not (list(root.glob(p.rstrip("/"))) if is_glob(p) else (root / p).exists())
    ]


def uncovered(root: Path, paths: list[str], packages: list[str]) -> list[str]:
    """App modules (every .py under the packages but ``__init__.py``) no row covers."""
    files: set[Path] = set()
    dirs: list[Path] = []
    for p in paths:
        if is_glob(p):
            files |= set(root.glob(p))
        elif (root / p).is_dir():
            dirs.append(root / p)
        else:
            files.add(root / p)
    left = []
    for package in packages:
        for module in sorted((root / package).rglob("*.py")):
            if module.name == "__init__.py" or "node_modules" in module.parts:
                continue
            if module in files or any(d in module.parents for d in dirs):
                continue
            left.append(str(module.relative_to(root)))
    return left


def test_every_path_the_map_names_exists() -> None:
    paths = mapped_paths((REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert len(paths) > 100
    assert missing(REPO_ROOT, paths) == []


def test_every_app_module_is_on_the_map() -> None:
    assert APP_PACKAGES is not None
    paths = mapped_paths((REPO_ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8"))
    assert uncovered(REPO_ROOT, paths, APP_PACKAGES.group(1).split()) == []


def test_the_map_check_sees_a_missing_path_and_an_unlisted_module(tmp_path: Path) -> None:
    (tmp_path / "pkg" / "sub").mkdir(parents=True)
    for name in ("__init__.py", "listed.py", "unlisted.py", "sub/deep.py"):
        (tmp_path / "pkg" / name).write_text('"""m"""\n')
    doc = (
        "# A\n\n## Concept-to-path map\n\n| concept | path |\n| --- | --- |\n"
        "| listed | `pkg/listed.py` (`not/checked.py`), `Settings.key_bytes` |\n"
        "| sub | `pkg/sub/` |\n| gone | `pkg/gone.py`, `pkg/*.txt` |\n\n## Next\n\n`pkg/x.py`\n"
    )
    paths = mapped_paths(doc)
    assert paths == ["pkg/listed.py", "pkg/sub/", "pkg/gone.py", "pkg/*.txt"]
    assert missing(tmp_path, paths) == ["pkg/gone.py", "pkg/*.txt"]
    assert uncovered(tmp_path, paths, ["pkg"]) == ["pkg/unlisted.py"]
