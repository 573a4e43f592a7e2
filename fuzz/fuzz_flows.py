"""Flow loader harness: :func:`flows.validate.validate_text` over the shipped prompt table.

Contract: any text gives a :class:`FlowReport` (issues with file and line); it never raises.
Property: a report that names no issue carries the flow.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from flows.registry import PROMPTS_FILE, flow_files, load_prompt_table
from flows.validate import validate_text

FLOWS_DIR = Path(__file__).resolve().parent.parent / "ivr_flows"
PROMPTS, _ = load_prompt_table(FLOWS_DIR / PROMPTS_FILE)


def check(data: bytes) -> None:
    text = data.decode("utf-8", "replace")
    report = validate_text(text, "fuzz.yaml", PROMPTS)
    if not report.issues and report.flow is None:
        raise AssertionError("a report without issues must carry the flow")
    for issue in report.issues:
        if issue.line < 0:
            raise AssertionError(f"negative line in {issue}")


def seeds() -> Iterator[bytes]:
    for path in flow_files(FLOWS_DIR):
        yield path.read_bytes()
