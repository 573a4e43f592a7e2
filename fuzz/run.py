"""Run one harness under atheris: ``python -m fuzz.run esl|flows|rules|lists [--runs N]``.

The harness modules are imported under atheris' instrumentation (coverage of the parsers, not
only of the harness); the seed corpus is written to ``var/fuzz/NAME`` (or ``--corpus DIR``,
kept between runs), libFuzzer adds what it finds there. On a defect libFuzzer writes the
input as ``var/fuzz/NAME-crash-*`` and the exit code is non-zero; libFuzzer's last line
says ``Done N runs in S second(s)``.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from pathlib import Path
from types import ModuleType

import atheris

HARNESSES = ("esl", "flows", "rules", "lists")
MAX_LEN = {"esl": 4096, "flows": 1024, "rules": 1024, "lists": 8192}
"""Longest input per harness: YAML documents past 1 KiB cost ~10 ms each to parse (PyYAML's
Python scanner), which would put 1M executions beyond an hour."""


def _load(name: str) -> ModuleType:
    with atheris.instrument_imports(
        include=["telephony", "flows", "compliance", "campaigns", "ivr", "fuzz"]
    ):
        return importlib.import_module(f"fuzz.fuzz_{name}")


def _fuzz_in_a_fresh_fork() -> None:
    """Go on in a forked child; this process waits and exits as the child did.

    Linux keeps a process's peak RSS across ``exec`` (``ru_maxrss`` starts at the parent's
    peak), and libFuzzer's ``-rss_limit_mb`` reads that peak: started from a test run holding
    gigabytes (speech models, Rasa), the fuzzer would report out-of-memory at its first RSS check
    (about a second in), on whatever input it was running. A child forked from this small, fresh
    process has a peak of its own.
    """
    pid = os.fork()
    if pid == 0:
        return
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code < 0:  # killed by a signal: die the same way
        signal.signal(-code, signal.SIG_DFL)
        os.kill(os.getpid(), -code)
    sys.exit(code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("harness", choices=HARNESSES)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--max-len", type=int, default=None)
    parser.add_argument("--corpus", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=0, help="libFuzzer seed (0: random)")
    args = parser.parse_args()
    _fuzz_in_a_fresh_fork()
    module = _load(args.harness)
    corpus = args.corpus or Path("var") / "fuzz" / args.harness
    corpus.mkdir(parents=True, exist_ok=True)
    for i, seed in enumerate(module.seeds()):
        (corpus / f"seed-{i}").write_bytes(seed)
    libfuzzer_args = [
        sys.argv[0],
        f"-runs={args.runs}",
        f"-max_len={args.max_len or MAX_LEN[args.harness]}",
        f"-seed={args.seed}",
        "-print_final_stats=1",
        "-timeout=20",
        "-rss_limit_mb=2048",
        f"-artifact_prefix={corpus.parent}/{args.harness}-",
        str(corpus),
    ]
    atheris.Setup(libfuzzer_args, module.check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
