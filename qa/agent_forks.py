"""Live QA of the human agent legs of this process's calls (adapter): the switch side.

When mod_callcenter bridges a caller to a human agent it fires ``bridge-agent-start``
(``CUSTOM callcenter::info``; :func:`agents.switch.bridge_event`) naming the agent
(``CC-Agent``), the caller's call (``CC-Member-Session-UUID``) and the leg it originated to the
agent (``CC-Agent-UUID``). :class:`AgentLegForks`, fed those events by the call process's
inbound ESL client and run as a supervised loop (:meth:`AgentLegForks.follow`), then — for a
call this process is inspecting (:meth:`qa.call_port.CallInspection.running`; another node's
call is that node's) — issues ``uuid_audio_fork <agent leg> start ws://…/audio/<agent leg>
mono 8k {"leg": "agent", "call_id": …, "agent_id": …, "offset_ms": …, …}`` to the process's
audio fork server and follows the leg (:func:`qa.agent_leg.watch_agent_leg`): each final is a
live alert when prohibited and a turn of the call's QA result. ``bridge-agent-end`` stops the
fork (FreeSWITCH closes it at the hang-up anyway); the follower ends when the fork closes.
:func:`build_agent_leg_qa` builds it for the call composition root (``flows.app``) with its
own inbound ESL client (``IVR_FREESWITCH_INBOUND``), in stream mode only (the audio fork server
runs the ASR).

QA never affects the call: a refused or failed fork is a warning naming the call, the leg and
the switch's reply (never customer data), and the call goes on unobserved live (the post-call
QA of the recording still covers the agent).
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Protocol

from agents.switch import BridgeEvent, bridge_event
from ivr.settings import Settings
from ivr.supervise import Supervised, cancel_and_wait
from qa.agent_leg import watch_agent_leg
from qa.call_port import CallInspection, QaOff
from speech.stream_server import AudioForkServer
from telephony.esl import Event
from telephony.inbound import InboundClient

log = logging.getLogger(__name__)
FORK_REPLY_TIMEOUT_S = 5.0
AGENT_LEG_EVENTS = ("CUSTOM", "callcenter::info")  # what the follower's ESL client subscribes


class SwitchApi(Protocol):
    """The switch's ``api`` (:class:`telephony.inbound.InboundClient`)."""

    async def api(self, command: str, arg: str = "", *, timeout_s: float | None = None) -> str: ...


def fork_metadata(call_id: str, agent: str, offset_ms: int, qa: CallInspection) -> str:
    """The fork's metadata (JSON, no spaces): what :func:`qa.agent_leg.agent_leg_call` reads."""
    found = qa.running(call_id)
    meta: dict[str, object] = {"leg": "agent", "call_id": call_id, "agent_id": agent}
    meta["offset_ms"] = offset_ms
    if found is not None:
        call = found[0]
        meta.update(purpose=call.purpose, flow=call.flow, institution=call.institution)
        if call.campaign:
            meta["campaign"] = call.campaign
    return json.dumps(meta, ensure_ascii=False, separators=(",", ":"))


class AgentLegForks:
    """Forks and follows the agent leg of every bridged call of this process."""

    def __init__(
        self,
        switch: SwitchApi,
        server: AudioForkServer,
        qa: CallInspection,
        *,
        connect_timeout_s: float = 10.0,
    ) -> None:
        self._switch = switch
        self._server = server
        self._qa = qa
        self._connect_timeout_s = connect_timeout_s
        self.queue: asyncio.Queue[BridgeEvent] = asyncio.Queue()
        self._legs: dict[str, asyncio.Task[int]] = {}  # agent leg uuid -> its follower
        self.forked = 0
        self.failed = 0

    def on_event(self, event: Event) -> None:
        """Inbound ESL listener: queue the bridge starts and ends."""
        found = bridge_event(event)
        if found is not None:
            self.queue.put_nowait(found)

    async def follow(self) -> None:
        """The supervised loop: act on each bridge event."""
        while True:
            event = await self.queue.get()
            if event.started:
                await self._bridged(event)
            else:
                await self._unbridged(event)

    async def _bridged(self, event: BridgeEvent) -> None:
        found = self._qa.running(event.call_id)
        if found is None:
            return  # not a call of this process
        if not event.agent_leg:
            log.warning(
                "call %s: bridge to agent %s names no agent leg (CC-Agent-UUID); no live agent QA",
                event.call_id,
                event.agent,
            )
            return
        leg = event.agent_leg
        self._qa.leg_opened(event.call_id)  # the call's result waits for this leg (bounded)
        url = f"{self._server.url}/audio/{leg}"
        metadata = fork_metadata(event.call_id, event.agent, found[1], self._qa)
        reply = await self._api("uuid_audio_fork", f"{leg} start {url} mono 8k {metadata}")
        if not reply.startswith("+OK"):
            self.failed += 1
            self._qa.leg_closed(event.call_id)
            log.warning(
                "call %s: audio fork of agent leg %s (agent %s) failed: %s; no live QA of the "
                "agent (the recording's post-call QA still covers it)",
                event.call_id,
                leg,
                event.agent,
                reply.strip()[:80] or "no reply",
            )
            return
        self.forked += 1
        task = asyncio.get_running_loop().create_task(
            watch_agent_leg(self._server, leg, self._qa, self._connect_timeout_s)
        )
        self._legs[leg] = task
        call_id = event.call_id

        def done(t: asyncio.Task[int]) -> None:
            self._legs.pop(leg, None)
            self._qa.leg_closed(call_id)
            if not t.cancelled() and t.exception() is not None:
                log.error("call %s: following agent leg %s failed: %r", call_id, leg, t.exception())

        task.add_done_callback(done)

    async def _unbridged(self, event: BridgeEvent) -> None:
        if event.agent_leg not in self._legs:
            return
        # the follower ends once the fork closes; FreeSWITCH closes it at the hang-up anyway
        await self._api("uuid_audio_fork", f"{event.agent_leg} stop")

    async def _api(self, command: str, arg: str) -> str:
        try:
            return await self._switch.api(command, arg, timeout_s=FORK_REPLY_TIMEOUT_S)
        except Exception as exc:  # noqa: BLE001 - the switch's failure is the fork's, not the call's
            return f"-ERR {type(exc).__name__}"

    async def close(self) -> None:
        """Stop following every leg (shutdown)."""
        for task in list(self._legs.values()):
            await cancel_and_wait(task)
        self._legs.clear()


class AgentLegRuntime:
    """The follower with its inbound ESL client, supervised (``aclose`` stops both)."""

    def __init__(self, client: InboundClient, forks: AgentLegForks) -> None:
        self.client = client
        self.forks = forks
        client.add_listener(forks.on_event)
        self.loop = Supervised("qa-agent-legs", self._run)

    async def _run(self) -> None:
        await self.client.connect()  # retries with backoff; never blocks the call process
        await self.forks.follow()

    def start(self) -> None:
        self.loop.start()

    async def aclose(self) -> None:
        await self.loop.stop()
        await self.forks.close()
        await self.client.close()


def build_agent_leg_qa(
    settings: Settings, qa: CallInspection | QaOff, server: AudioForkServer | None
) -> AgentLegRuntime | None:
    """Live QA of agent legs, started, when the call process can do it: QA of calls on, stream
    mode (the audio fork server) and the switch's inbound ESL (``IVR_FREESWITCH_INBOUND``);
    else ``None``, said so at start (the recording's post-call QA still covers agents)."""
    missing = [
        why
        for why, ok in (
            ("IVR_QA_CALLS=false", isinstance(qa, CallInspection)),
            ("IVR_AUDIO_MODE is not stream", server is not None),
            ("IVR_FREESWITCH_INBOUND is not set", bool(settings.freeswitch_inbound)),
        )
        if not ok
    ]
    if missing or not isinstance(qa, CallInspection) or server is None:
        log.info("no live QA of human agent legs: %s", "; ".join(missing))
        return None
    host, _, port = (settings.freeswitch_inbound or "").rpartition(":")
    client = InboundClient(
        host or "127.0.0.1",
        int(port),
        settings.freeswitch_password.get_secret_value(),
        events=AGENT_LEG_EVENTS,
    )
    runtime = AgentLegRuntime(client, AgentLegForks(client, server, qa))
    runtime.start()
    log.info("live QA of human agent legs on (bridges from %s)", settings.freeswitch_inbound)
    return runtime
