"""Simulate a call in the browser: the draft (or any flow text) through the real orchestrator and
the FreeSWITCH simulator, exactly as ``ivr call`` does (``flows.call_cli.place_call``), in a
sandbox: a private flows folder with the flow and the prompt table, and a private SQLite
database and keys, so a simulated refusal never lands on the real DNC list nor the evidence.

The prompts the IVR spoke are synthesised with the configured TTS (memory only) and kept with
the result for a while, so the browser can play them (:class:`SimulationAudio`).
"""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from flows.call_cli import place_call
from flows.registry import PROMPTS_FILE, FlowRegistry
from ivr.errors import IvrError
from ivr.settings import Settings
from speech.audio import wav_bytes
from speech.factory import build_prompt_cache, prompt_cache_dir
from telephony.simulator import Turn

TurnKind = Literal["say", "dtmf", "silent", "hangup"]
MAX_TURNS = 30


@dataclass(frozen=True, slots=True)
class CallerTurn:
    kind: TurnKind
    value: str = ""

    def turn(self) -> Turn:
        if self.kind == "say":
            return Turn.say(transcript=self.value)
        if self.kind == "dtmf":
            return Turn.press(self.value)
        return Turn.silent() if self.kind == "silent" else Turn.hang_up()


class SimulationAudio:
    """The prompt audio of recent simulations, in memory, a bounded number of calls."""

    def __init__(self, keep: int = 20) -> None:
        self._keep = keep
        self._calls: OrderedDict[str, dict[int, bytes]] = OrderedDict()

    def put(self, lines: dict[int, bytes]) -> str:
        sim_id = uuid.uuid4().hex
        self._calls[sim_id] = lines
        while len(self._calls) > self._keep:
            self._calls.popitem(last=False)
        return sim_id

    def get(self, sim_id: str, line: int) -> bytes | None:
        return self._calls.get(sim_id, {}).get(line)


def sandbox_settings(settings: Settings, root: Path) -> Settings:
    return settings.model_copy(
        update={
            "data_dir": root / "data",
            "database_url": None,
            "redis_url": None,
            "flows_dir": root / "flows",
            "master_key": None,
            "blind_index_key": None,
            "records_keyring_file": None,
            "records_s3_bucket": None,
            "records_vault_dir": None,
            "prompt_cache_dir": prompt_cache_dir(settings),
            "audio_mode": "record",
        }
    )


async def simulate_call(
    settings: Settings,
    audio: SimulationAudio,
    *,
    flow_name: str,
    flow_text: str,
    prompts_text: str,
    caller: str,
    turns: list[CallerTurn],
    agent_available: bool = True,
) -> dict[str, Any]:
    """Run one call of ``flow_text`` in a sandbox; the transcript, evidence kinds and audio."""
    if len(turns) > MAX_TURNS:
        raise IvrError(
            f"at most {MAX_TURNS} caller turns",
            code="designer.too_many_turns",
            params={"max": MAX_TURNS},
        )
    with tempfile.TemporaryDirectory(prefix="ivr-sim-") as tmp:
        root = Path(tmp)
        (root / "flows").mkdir()
        (root / "flows" / PROMPTS_FILE).write_text(prompts_text, encoding="utf-8")
        (root / "flows" / f"{flow_name}.yaml").write_text(flow_text, encoding="utf-8")
        sim = sandbox_settings(settings, root)
        registry = await asyncio.to_thread(FlowRegistry, sim.flows_dir)
        result = await place_call(
            sim,
            flow_name,
            caller,
            [t.turn() for t in turns],
            agent_available=agent_available,
            time_scale=0.0,
            registry=registry,
        )
    cache = build_prompt_cache(settings)
    lines: dict[int, bytes] = {}
    for index, line in enumerate(result["transcript"]):
        if line["who"] in ("ivr", "bot") and "[" in line.get("detail", ""):
            spoken = await cache.get(line["what"], sensitive=True)
            lines[index] = wav_bytes(spoken)
    sim_id = audio.put(lines)
    return {
        "simulation_id": sim_id,
        "flow": flow_name,
        "caller": result["caller"],
        "transcript": [
            line | {"audio": index in lines} for index, line in enumerate(result["transcript"])
        ],
        "hangup_by": result["hangup_by"],
        "hangup_cause": result["hangup_cause"],
        "transfer": result["transfer"],
        "evidence": [e["kind"] for e in result["evidence"]],
    }
