"""Helpers of the flow tests: a call stack (orchestrator + simulator + real stores) and waits.

:class:`FlowStack` places simulated calls into a real :class:`OutboundServer` running the real
orchestrator; ``place`` runs a channel straight into the socket (or through the shipped
dialplan with ``via_dialplan``), ``originate`` places an outbound leg the way the dialler does
(``InboundClient.originate`` to the simulated switch, routed by the shipped dialplan to
``ivr_outbound``). Dependencies are swapped with :meth:`FlowStack.use` (a new frozen
``CallDeps``), never by mutating the frozen one.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.wait import eventually

from flows.app import Built
from flows.channel_vars import LegVariables
from flows.orchestrator import CallDeps, CallOrchestrator
from ivr.evidence import EvidenceKind
from ivr.settings import Settings
from telephony.esl import Api, Execute
from telephony.esl.dialstring import Extension
from telephony.inbound import InboundClient
from telephony.server import OutboundServer, ServerConfig
from telephony.simulator import CallerScript, CallResult, Dialplan, InboundSwitch, SimulatedCall


@dataclass
class CallOutcome:
    """What one simulated call did, from the switch's side and in the evidence chain."""

    result: CallResult
    evidence: list[tuple[str, dict[str, object]]]

    @property
    def call_id(self) -> str:
        return self.result.uuid

    @property
    def executed(self) -> list[Execute]:
        """The dialplan applications the app ran on the channel, in order."""
        return [c for c in self.result.commands if isinstance(c, Execute)]

    @property
    def apps(self) -> list[str]:
        return [c.app for c in self.executed]

    @property
    def played(self) -> list[str]:
        return [
            c.arg.rsplit("/", 1)[-1]
            for c in self.executed
            if c.app in ("playback", "play_and_get_digits") and c.arg
        ]

    @property
    def transfer(self) -> str | None:
        return next((c.arg for c in self.executed if c.app == "transfer"), None)

    def api(self, command: str) -> list[str]:
        """The arguments of every ``api <command>`` the app sent."""
        return [
            c.arg or "" for c in self.result.commands if isinstance(c, Api) and c.command == command
        ]

    @property
    def hangup_by(self) -> str | None:
        return self.result.hangup_by

    def kinds(self) -> list[str]:
        return [kind for kind, _ in self.evidence]

    def payload(self, kind: EvidenceKind) -> dict[str, object]:
        return next(p for k, p in self.evidence if k == kind.value)

    def payloads(self, kind: EvidenceKind) -> list[dict[str, object]]:
        return [p for k, p in self.evidence if k == kind.value]


def stack_settings(tmp_path: Path, rasa_url: str, prompt_cache_dir: Path, **extra: Any) -> Settings:
    """Settings of a test call stack: private data dir, one Rasa server, the shared cache."""
    return Settings(
        data_dir=tmp_path / "data",
        rasa_url=rasa_url,
        rasa_processes=1,  # the test stack runs one Rasa server
        rasa_timeout_s=5.0,
        institution_name="测试银行",
        bot_id="AI-7",
        prompt_cache_dir=prompt_cache_dir,
        **extra,
    )


class FlowStack:
    """The orchestrator on the real stores, reachable by simulated calls."""

    def __init__(self, built: Built, settings: Settings, flows_dir: Path, fs_dir: Path) -> None:
        self.built = built
        self.settings = settings
        self.flows_dir = flows_dir
        self.fs_dir = fs_dir  # the simulated switch's recordings_dir
        self.deps: CallDeps = built.deps
        self.server_config = ServerConfig(reply_timeout_s=10)

    def use(self, **changes: Any) -> None:
        """Later calls run with these dependencies replaced."""
        self.deps = dataclasses.replace(self.deps, **changes)

    def dialplan(self) -> Dialplan:
        return Dialplan.shipped({"recordings_dir": str(self.fs_dir)})

    def outcome(self, result: CallResult) -> CallOutcome:
        evidence = self.deps.evidence
        entries = evidence.entries(call_id=result.uuid)  # type: ignore[attr-defined]
        return CallOutcome(result, [(e.kind, dict(e.payload)) for e in entries])

    async def place(
        self,
        flow: str | None,
        script: CallerScript,
        *,
        variables: dict[str, str] | None = None,
        via_dialplan: bool = False,
        time_scale: float = 0.0,
        sim: type[SimulatedCall] = SimulatedCall,
    ) -> CallOutcome:
        server = OutboundServer(CallOrchestrator(self.deps), self.deps.evidence, self.server_config)
        host, port = await server.start("127.0.0.1", 0)
        try:
            call = sim(
                script,
                time_scale=time_scale,
                write_requested_paths=True,
                dialplan=self.dialplan() if via_dialplan else None,
            )
            if flow is not None:
                call.channel.variables["ivr_flow"] = flow  # what a dialplan or the dialler sets
            call.channel.variables.update(variables or {})
            result = await call.run(host, port, deadline_s=120)
            await server.wait_idle()
        finally:
            await server.close()
        return self.outcome(result)

    async def originate(
        self, leg: LegVariables, script: CallerScript, *, number: str = "13912345678"
    ) -> CallOutcome:
        """An outbound leg as the dialler places it: originate with the leg's variables to
        ``ivr_outbound XML ivr`` (the shipped dialplan records it and hands it to the app)."""
        server = OutboundServer(CallOrchestrator(self.deps), self.deps.evidence, self.server_config)
        host, port = await server.start("127.0.0.1", 0)
        switch = InboundSwitch(script=script, dialplan=self.dialplan(), socket_target=(host, port))
        client: InboundClient | None = None
        try:
            shost, sport = await switch.start()
            client = InboundClient(shost, sport, "ClueCon")
            await client.connect()
            placed = await client.originate(
                f"sofia/gateway/carrier/{number}",
                Extension("ivr_outbound", "XML", "ivr"),
                variables=leg.as_variables(),
            )
            assert placed.ok, placed
            await eventually(lambda: len(switch.results) == 1, timeout_s=120)
            await server.wait_idle()
        finally:
            if client is not None:
                await client.close()
            await switch.close()
            await server.close()
        return self.outcome(switch.results[0])


def prompt_file(stack: FlowStack, flow: str, prompt_id: str) -> str:
    """The cached audio file name a flow's static prompt plays from."""
    from flows.interpreter import render

    version = stack.deps.registry.get(flow)
    variables = {
        **version.flow.variables,
        "institution": stack.settings.institution_name,
        "bot_id": stack.settings.bot_id,
    }
    text = render(version.prompts[prompt_id].text or "", variables)
    cache = stack.deps.prompts.cache  # type: ignore[attr-defined]
    return str(cache.path_for(text).name)
