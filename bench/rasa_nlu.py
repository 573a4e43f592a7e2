"""Parse texts with a trained Rasa model in process (runs in ``.venv-rasa``; used by benches).

    .venv-rasa/bin/python bench/rasa_nlu.py models/<hash>.tar.gz < texts.jsonl > parses.jsonl

Each input line is a JSON string; each output line ``{"intent": ..., "confidence": ...,
"ranking": [[intent, confidence], ...]}`` (the top 5). The repository root is put on the path so
the pipeline's custom components (``bot/``) load. One process parses any number of texts, so
the benches pay Rasa's start-up (~10 s) once.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("SQLALCHEMY_SILENCE_UBER_WARNING", "1")


async def _main(model: str) -> None:
    # The protocol gets its own copy of stdout; fd 1 goes to stderr, so nothing Rasa prints
    # (its structlog debug lines write to stdout) reaches the protocol stream.
    out = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    logging.disable(logging.WARNING)
    from rasa.core.agent import Agent

    agent = Agent.load(model)
    out.write(json.dumps({"ready": True}) + "\n")
    out.flush()
    for line in sys.stdin:
        if not line.strip():
            continue
        text = json.loads(line)
        result = await agent.parse_message(text) if text.strip() else {}
        intent = result.get("intent") or {"name": "no_input", "confidence": 1.0}
        ranking = [
            [r["name"], round(float(r["confidence"]), 4)]
            for r in (result.get("intent_ranking") or [])[:5]
        ]
        out.write(
            json.dumps(
                {
                    "intent": intent["name"],
                    "confidence": round(float(intent["confidence"]), 4),
                    "ranking": ranking,
                },
                ensure_ascii=False,
            )
            + "\n"
        )
        out.flush()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
