"""``ivr call``: place a simulated call through the whole stack and print it as a transcript.

FreeSWITCH simulator → ESL outbound server (in this process) → flow → speech → Rasa → actions →
compliance, evidence and vault stores (the same embedded stores ``make run`` uses). Caller turns
come in command-line order from ``--say TEXT`` (scripted speech), ``--dtmf DIGITS``,
``--audio FILE.wav`` (real audio through the configured ASR), ``--silent`` and ``--hangup``, or from
``--script FILE.yaml``. When no Rasa server answers at ``IVR_RASA_URL``, a private Rasa and action
server are started for the call and stopped after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import typer
import yaml

from flows.adapters import AsrListener, SidecarListener
from flows.app import build_deps
from flows.orchestrator import CallOrchestrator
from flows.registry import FlowRegistry
from ivr.errors import IvrError, Param
from ivr.output import JSON_OPTION, emit, fail
from ivr.phone import mask
from ivr.settings import Settings, get_settings
from shell import rasa_model
from shell.services import (
    ManagedProcess,
    action_server_spec,
    free_port,
    rasa_spec,
    runtime_endpoints,
)
from speech.factory import build_asr
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, SimulatedCall, Turn

TURN_FLAGS = ("--say", "--dtmf", "--audio", "--silent", "--hangup")


@dataclass
class Transcript:
    """Observer collecting what happened, with seconds since the call started."""

    started: float = field(default_factory=time.monotonic)
    lines: list[dict[str, Any]] = field(default_factory=list)

    def note(
        self,
        call_id: str,
        who: str,
        what: str,
        detail: str = "",
        *,
        code: str | None = None,
        detail_code: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        self.lines.append(
            {
                "t": round(time.monotonic() - self.started, 3),
                "who": who,
                "what": what,
                "detail": detail,
                "code": code,
                "detail_code": detail_code,
                "params": dict(params or {}),
            }
        )


def turns_from_args(args: list[str]) -> list[Turn]:
    """Caller turns from the extra arguments, in the order given."""
    turns: list[Turn] = []
    items = iter(args)
    for flag in items:
        if flag in ("--silent", "--hangup"):
            turns.append(Turn.silent() if flag == "--silent" else Turn.hang_up())
            continue
        if flag not in TURN_FLAGS:
            raise IvrError(f"unknown option {flag!r}; caller turns are {', '.join(TURN_FLAGS)}")
        value = next(items, None)
        if value is None:
            raise IvrError(f"{flag} needs a value")
        if flag == "--say":
            turns.append(Turn.say(transcript=value))
        elif flag == "--dtmf":
            turns.append(Turn.press(value))
        else:
            path = Path(value)
            if not path.exists():
                raise IvrError(f"audio file {path} not found")
            turns.append(Turn.say(audio=path))
    return turns


def turns_from_script(path: Path) -> tuple[list[Turn], dict[str, Any]]:
    """``turns: [{say: 你好}, {dtmf: "1"}, {audio: a.wav}, {silent: true}, {hangup: true}]``
    plus optional ``flow``, ``caller`` and ``agent_available``."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    args: list[str] = []
    for item in data.get("turns", []):
        (key, value), *_ = dict(item).items()
        args.append(f"--{key}")
        if key not in ("silent", "hangup"):
            args.append(str(value))
    options = {k: data[k] for k in ("flow", "caller", "agent_available") if k in data}
    return turns_from_args(args), options


def rasa_is_up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/status", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@contextlib.contextmanager
def rasa_for_the_call(settings: Settings) -> Iterator[Settings]:
    """The configured Rasa if it answers; else a private Rasa + action server for this call."""
    if rasa_is_up(settings.rasa_url):
        yield settings
        return
    sys.stderr.write(
        f"[ivr call] no Rasa server at {settings.rasa_url} (make run starts one); "
        "starting a private Rasa and action server for this call (~20 s) ...\n"
    )
    model = rasa_model.ensure_model()
    run_dir = settings.data_dir / "run"
    action_port, rasa_port = free_port(), free_port()
    actions = ManagedProcess(action_server_spec(action_port), run_dir / "log")
    rasa = ManagedProcess(
        rasa_spec(model.path, rasa_port, runtime_endpoints(action_port, run_dir), 180.0),
        run_dir / "log",
    )
    try:
        actions.wait_ready()
        rasa.wait_ready()
        yield settings.model_copy(
            update={"rasa_url": f"http://127.0.0.1:{rasa_port}", "rasa_processes": 1}
        )
    finally:
        rasa.stop()
        actions.stop()


async def place_call(
    settings: Settings,
    flow: str,
    caller: str,
    turns: list[Turn],
    *,
    agent_available: bool,
    time_scale: float,
    at: datetime | None = None,
    registry: FlowRegistry | None = None,
) -> dict[str, Any]:
    """Run one simulated call end to end; return its transcript, directives and evidence.
    ``registry`` (default: the flows of ``settings.flows_dir``) lets the console run a draft."""
    uses_audio = any(t.audio is not None for t in turns)
    listener = SidecarListener(AsrListener(build_asr(settings)) if uses_audio else None)
    built = await build_deps(settings, listener=listener, registry=registry)
    transcript = Transcript()
    deps = dataclasses.replace(built.deps, observer=transcript)
    if at is not None:
        deps = dataclasses.replace(deps, clock=lambda: at)
    version = deps.registry.get(flow)
    evidence = deps.evidence
    server = OutboundServer(CallOrchestrator(deps), evidence, ServerConfig())
    try:
        host, port = await server.start("127.0.0.1", 0)
        sim = SimulatedCall(
            CallerScript(caller=caller, turns=tuple(turns), agent_available=agent_available),
            time_scale=time_scale,
            write_requested_paths=True,
        )
        sim.channel.variables["ivr_flow"] = flow
        if version.flow.direction == "outbound":
            sim.channel.variables["ivr_customer_number"] = caller
        transcript.started = time.monotonic()
        result = await sim.run(host, port, deadline_s=600)
        await server.wait_idle()
    finally:
        await server.close()
        await built.aclose()
    entries = list(evidence.entries(call_id=result.uuid))  # type: ignore[attr-defined]
    verified = evidence.verify()  # type: ignore[attr-defined]
    transfers = [
        getattr(c, "arg", None) for c in result.commands if getattr(c, "app", None) == "transfer"
    ]
    transfer = transfers[0] if transfers else None
    return {
        "call_id": result.uuid,
        "flow": flow,
        "flow_version": version.version,
        "caller": mask(caller),
        "transcript": transcript.lines,
        "transfer": transfer,
        "hangup_by": result.hangup_by,
        "hangup_cause": result.hangup_cause,
        "evidence": [{"seq": e.seq, "kind": e.kind, "payload": dict(e.payload)} for e in entries],
        "evidence_chain_ok": verified.ok,
    }


def format_call(data: dict[str, Any]) -> str:
    lines = [
        f"call {data['call_id']}  flow {data['flow']}@{data['flow_version']}  "
        f"caller {data['caller']}",
        "",
    ]
    width = {"ivr": "IVR", "caller": "CALLER", "bot": "BOT"}
    for line in data["transcript"]:
        detail = f"   ({line['detail']})" if line["detail"] else ""
        lines.append(
            f"{line['t']:7.2f}s  {width.get(line['who'], line['who']):<6}  {line['what']}{detail}"
        )
    lines.append("")
    ended = f"hung up by {data['hangup_by']} ({data['hangup_cause']})"
    if data["transfer"]:
        ended = f"transferred: {data['transfer']}"
    lines.append(f"end: {ended}")
    chain = "verified" if data["evidence_chain_ok"] else "BROKEN"
    kinds = ", ".join(f"#{e['seq']} {e['kind']}" for e in data["evidence"])
    lines.append(f"evidence ({chain} chain): {kinds}")
    return "\n".join(lines)


def _aware(at: datetime | None) -> datetime | None:
    if at is not None and at.tzinfo is None:
        return at.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    return at


def call(
    ctx: typer.Context,
    flow: str = typer.Option("inbound_service", help="flow name (ivr_flows/)"),
    caller: str = typer.Option("13800138000", help="caller (inbound) or callee (outbound)"),
    script: Path | None = typer.Option(None, help="YAML file with turns (and flow, caller)"),
    no_agent: bool = typer.Option(False, "--no-agent", help="no agent free in any queue"),
    realtime: bool = typer.Option(False, help="play media at real speed"),
    at: datetime | None = typer.Option(
        None, help="pretend the call happens at this ISO 8601 time (business hours, windows)"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Place a simulated call through the whole stack and print its transcript.

    Caller turns, in order: --say TEXT, --dtmf DIGITS, --audio FILE.wav, --silent, --hangup.
    """
    try:
        turns = turns_from_args(list(ctx.args))
        agent_available = not no_agent
        if script is not None:
            script_turns, options = turns_from_script(script)
            turns = script_turns + turns
            flow = str(options.get("flow", flow))
            caller = str(options.get("caller", caller))
            agent_available = bool(options.get("agent_available", agent_available))
        logging.getLogger().setLevel(logging.ERROR)  # the transcript shows what went wrong
        settings = get_settings()
        with rasa_for_the_call(settings) as live:
            data = asyncio.run(
                place_call(
                    live,
                    flow,
                    caller,
                    turns,
                    agent_available=agent_available,
                    time_scale=1.0 if realtime else 0.0,
                    at=_aware(at),
                )
            )
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit(data, as_json, format_call)
