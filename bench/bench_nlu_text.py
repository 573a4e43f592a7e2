"""Text NLU accuracy on the held-out ``nlu/test`` (never trained on), per intent, for the model
of the current data and, side by side, any other models given (e.g. the pipeline before a change).

    .venv/bin/python bench/bench_nlu_text.py [--baseline models/<hash>.tar.gz ...] [--json]

Target (issue 17): >= 0.95.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import yaml
from speech_eval_support import REPO, RasaNlu

TARGET = 0.95


def test_examples(path: Path = REPO / "nlu" / "test" / "test.yml") -> list[tuple[str, str]]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    out = []
    for block in data["nlu"]:
        for line in block["examples"].splitlines():
            text = re.sub(r"^\s*-\s*", "", line).strip()
            if text:
                out.append((block["intent"], text))
    return out


def evaluate(model: Path | None) -> dict[str, Any]:
    examples = test_examples()
    wrong = []
    with RasaNlu(model) as nlu:
        for intent, text in examples:
            got = nlu.parse(text)["intent"]
            if got != intent:
                wrong.append((text, intent, got))
        name = nlu.model.name
    return {
        "model": name,
        "n": len(examples),
        "accuracy": round(1 - len(wrong) / len(examples), 4),
        "wrong": wrong,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", type=Path, nargs="*", default=[])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--show-errors", action="store_true")
    args = parser.parse_args()
    rows = [evaluate(m) for m in args.baseline] + [evaluate(None)]
    if args.json:
        print(json.dumps({"rows": rows, "target": TARGET}, ensure_ascii=False, indent=2))
        return
    print("Text NLU on nlu/test (held out)")
    for i, row in enumerate(rows):
        tag = "current" if i == len(rows) - 1 else "baseline"
        print(
            f"  {tag:<8} {row['model']:<24} accuracy {row['accuracy']:.3f} of {row['n']} "
            f"(target >= {TARGET})"
        )
        if args.show_errors:
            for text, want, got in row["wrong"]:
                print(f"      {text!r}: {want} -> {got}")


if __name__ == "__main__":
    main()
