"""The fuzz harnesses (``fuzz/``): every seed and every input that once found a defect
(``fuzz/regressions/NAME/``) passes in-process, and a short coverage-guided atheris run of
each harness finds nothing (``make fuzz`` runs 1M executions each)."""

from __future__ import annotations

import shutil
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
    found = kept_artifacts(name, tmp_path, out)
    assert proc.returncode == 0, f"{found}\n{out[-4000:]}"
    assert f"Done {SHORT_RUNS} runs" in out, out[-2000:]
    assert not found


def kept_artifacts(name: str, where: Path, out: str) -> str:
    """Copy what libFuzzer wrote on a defect (``crash-``, ``oom-``, ``timeout-``, ``leak-``) to
    ``var/fuzz-failures/`` (a test's tmp_path is gone after the run) and say where, with the
    seed that reproduces the run; empty when it wrote nothing."""
    artifacts = sorted(p for p in where.glob(f"{name}-*-*") if p.is_file())
    if not artifacts:
        return ""
    keep = ROOT / "var" / "fuzz-failures"
    keep.mkdir(parents=True, exist_ok=True)
    for path in artifacts:
        shutil.copy2(path, keep / path.name)
    seed = next((line for line in out.splitlines() if line.startswith("INFO: Seed:")), "")
    names = ", ".join(p.name for p in artifacts)
    return f"libFuzzer wrote {names}; kept in {keep} ({seed}; rerun with fuzz.run --seed)"


@pytest.mark.slow
def test_a_short_run_started_by_a_large_process_is_not_out_of_memory(tmp_path: Path) -> None:
    """Linux carries a parent's peak RSS over ``exec``: a test run holding gigabytes made a short
    run's libFuzzer report out-of-memory at its first RSS check (about a second in), on whatever
    input it was running (any harness, even the empty input). The harness runs in a fresh fork,
    so a 2.2 GB parent does not count (a run of 3,000 lasts past that first check)."""
    parent = (
        "import subprocess, sys\n"
        "held = bytearray(2200 * 1024 * 1024)\n"
        "for i in range(0, len(held), 4096): held[i] = 1\n"
        "sys.exit(subprocess.run([sys.executable, '-m', 'fuzz.run', 'rules', '--runs', '3000',"
        f" '--corpus', {str(tmp_path / 'rules')!r}]).returncode)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", parent], cwd=ROOT, capture_output=True, text=True, timeout=240
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "out-of-memory" not in out
    assert "Done 3000 runs" in out, out[-2000:]
