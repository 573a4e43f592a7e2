"""The fuzz harnesses (``fuzz/``): every seed and every input that once found a defect
(``fuzz/regressions/NAME/``) passes in-process, and a short coverage-guided atheris run of
each harness finds nothing (``make fuzz`` runs 1M executions each)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fuzz import fuzz_esl, fuzz_flows, fuzz_lists, fuzz_rules

ROOT = Path(__file__).resolve().parents[2]
HARNESSES = {"esl": fuzz_esl, "flows": fuzz_flows, "rules": fuzz_rules, "lists": fuzz_lists}
SHORT_RUNS = 3000


@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_seeds_and_past_crashes_pass_the_harness(name: str) -> None:
    module = HARNESSES[name]
    inputs = list(module.seeds())
    inputs += [p.read_bytes() for p in sorted((ROOT / "fuzz" / "regressions" / name).glob("*"))]
    assert inputs
    for data in inputs:
        module.check(data)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(HARNESSES))
def test_short_atheris_run_finds_no_defect(name: str, tmp_path: Path) -> None:
    corpus = tmp_path / name
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "fuzz.run",
            name,
            "--runs",
            str(SHORT_RUNS),
            "--corpus",
            str(corpus),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=240,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    assert f"Done {SHORT_RUNS} runs" in out, out[-2000:]
    assert not list(tmp_path.glob(f"{name}-crash-*"))
