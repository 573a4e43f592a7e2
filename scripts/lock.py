"""Pin the app environment: print ``name==version`` for ivr's installed dependency closure.

``make lock`` writes this to ``constraints/app.txt``. Only what ivr needs (its dependencies and
the extras setup installs, plus ``bench``) is pinned, never tools installed by hand in ``.venv``
(py-spy, ...). Run with the app environment's Python after changing pyproject.toml.

``--check`` pins nothing: it exits 1, naming each package, when an installed dependency of the
extras setup installs has no pin, or another pin, in ``constraints/app.txt`` (a test runs it).
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import Requirement

SETUP_EXTRAS = ("dev", "speech", "funasr", "s3")  # what scripts/setup.sh installs
EXTRAS = (*SETUP_EXTRAS, "bench")
BOOTSTRAP = {"pip", "setuptools", "wheel"}  # setup upgrades these before installing; never pinned
CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints" / "app.txt"


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def closure(root: str = "ivr", extras: tuple[str, ...] = EXTRAS) -> dict[str, str]:
    """Installed distributions (canonical name -> version) that ``root[extras]`` requires."""
    found: dict[str, str] = {}
    missing: list[str] = []
    pending: list[tuple[str, frozenset[str]]] = [(root, frozenset(extras))]
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        name, wanted = pending.pop()
        if (canonical(name), wanted) in seen:
            continue
        seen.add((canonical(name), wanted))
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
            continue
        if canonical(name) in BOOTSTRAP:
            continue
        if canonical(name) != canonical(root):
            found[canonical(name)] = dist.version
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker is not None and not any(
                req.marker.evaluate({**default_environment(), "extra": extra})
                for extra in (wanted or {""})
            ):
                continue
            pending.append((req.name, frozenset(req.extras)))
    if missing:
        raise SystemExit(f"not installed (run make setup first): {', '.join(sorted(missing))}")
    return found


def pinned(path: Path = CONSTRAINTS) -> dict[str, str]:
    """The pins of a constraints file (canonical name -> version)."""
    pins: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            pins[canonical(name)] = version.strip()
    return pins


def unpinned(installed: dict[str, str], pins: dict[str, str]) -> list[str]:
    """What ``pins`` lacks or pins at another version than the one installed."""
    return [
        f"{name}=={version} (pinned: {pins.get(name, 'nothing')})"
        for name, version in sorted(installed.items())
        if pins.get(name) != version
    ]


def main(argv: list[str]) -> int:
    if argv == ["--check"]:
        problems = unpinned(closure(extras=SETUP_EXTRAS), pinned())
        for problem in problems:
            print(f"not pinned in {CONSTRAINTS.name}: {problem}", file=sys.stderr)
        return 1 if problems else 0
    pins = closure()
    sys.stdout.write("".join(f"{name}=={pins[name]}\n" for name in sorted(pins)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
