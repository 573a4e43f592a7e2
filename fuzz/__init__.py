"""Coverage-guided fuzzing (atheris) of the parsers that read untrusted bytes.

Each ``fuzz/fuzz_*.py`` module has one ``check(data: bytes)`` that raises only on a defect (an
exception the parser's contract does not allow, or a broken property), and a seed corpus made
from the project's own data. ``python -m fuzz.run NAME --runs N`` runs it under atheris;
``make fuzz`` runs every harness for 1M executions, ``make test`` a short run of each.
"""
