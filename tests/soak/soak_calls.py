"""The soak's callers: inbound callers through the real orchestrator (``inbound_service``), and
the callees the dialler reaches (``outbound_marketing`` on the same orchestrator, through the
shipped ``ivr_outbound`` extension of the simulated switch).

Each caller is scripted with what it will do (menu, bot, refusal, transfer, hang-up, a dropped
ESL connection during the ESL fault) and the soak keeps what the *switch* saw of it (its
:class:`CallResult`), so the audit can judge the product by what callers heard.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from flows.call import CallDeps
from flows.interpreter import render
from telephony.esl import Execute
from telephony.simulator import CallerScript, CallResult, Fault, SimulatedCall, Turn
from telephony.simulator.dialing import DialOutcome, OutcomeMix
from telephony.simulator.originate import OriginateRequest

REFUSAL_TEXT = "以后别再给我打电话了"

# kind -> (weight, turns): inbound callers of the service line
INBOUND_KINDS: dict[str, tuple[int, tuple[Turn, ...]]] = {
    "account_bot": (30, (Turn.press("1"), Turn.say(transcript="好的再见"))),
    "cards_bot_refuse": (10, (Turn.press("2"), Turn.say(transcript=REFUSAL_TEXT))),
    "menu_refuse": (15, (Turn.say(transcript=REFUSAL_TEXT),)),
    "human": (15, (Turn.press("0"),)),
    "complaint": (10, (Turn.say(transcript="我要投诉"),)),
    "hangup": (10, (Turn.hang_up(),)),
    "no_input": (10, (Turn.silent(), Turn.silent(), Turn.silent())),
}
REFUSING_INBOUND = {"cards_bot_refuse", "menu_refuse"}

# kind -> turns: callees of the campaign (fixed per number for the whole run)
OUTBOUND_KINDS: dict[str, tuple[int, tuple[Turn, ...]]] = {
    "consent": (50, (Turn.press("1"), Turn.silent())),
    "refuse": (25, (Turn.press("2"),)),
    "silent": (25, (Turn.silent(), Turn.silent())),
}


def played(result: CallResult) -> list[str]:
    """File names of what the caller heard (``playback``/``play_and_get_digits``), in order."""
    return [
        (c.arg or "").rsplit("/", 1)[-1]
        for c in result.commands
        if isinstance(c, Execute) and c.app in ("playback", "play_and_get_digits") and c.arg
    ]


def prompt_file(deps: CallDeps, institution: str, bot_id: str, flow: str, prompt: str) -> str:
    """The cached audio file a flow's static prompt plays from (what the caller hears)."""
    version = deps.registry.get(flow)
    variables = {**version.flow.variables, "institution": institution, "bot_id": bot_id}
    text = render(version.prompts[prompt].text or "", variables)
    cache = deps.prompts.cache  # type: ignore[attr-defined]
    return str(cache.path_for(text).name)


@dataclass
class InboundCall:
    """One inbound caller and what the switch saw."""

    kind: str
    number: str  # national form, as the caller id carries it
    fault: Fault | None
    result: CallResult | None = None
    error: str | None = None
    started_mono: float = 0.0
    ended_mono: float = 0.0
    hung_mono: float = 0.0  # when the switch hung the channel up (0: it never did)


class TimedCall(SimulatedCall):
    """A simulated call that notes when its channel hung up (the dump compares it with when
    the app let the connection go)."""

    hung_mono = 0.0

    def start_hangup(self, cause: str, by: str) -> None:
        if self.channel.hangup_cause is None:
            self.hung_mono = time.monotonic()
        super().start_hangup(cause, by)


@dataclass
class InboundLoad:
    """Keeps ``concurrency`` inbound calls in flight until :meth:`stop`: each worker places a
    call, waits for its end, places the next. ``drop_rate`` is the share of new calls whose
    ESL connection the switch drops (the ESL fault raises it)."""

    host: str
    port: int
    numbers: Callable[[], str]
    concurrency: int
    time_scale: float
    seed: int = 19
    drop_rate: float = 0.0
    calls: list[InboundCall] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _rng: random.Random = field(init=False)

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def stop(self) -> None:
        self._stop.set()

    def in_flight(self) -> int:
        return sum(1 for c in self.calls if c.result is None and c.error is None)

    def _next(self) -> tuple[InboundCall, CallerScript]:
        kinds = list(INBOUND_KINDS)
        kind = self._rng.choices(kinds, [INBOUND_KINDS[k][0] for k in kinds])[0]
        fault = Fault.DROP_CONNECTION if self._rng.random() < self.drop_rate else None
        call = InboundCall(kind, self.numbers(), fault)
        script = CallerScript(
            caller=call.number, destination="95588", turns=INBOUND_KINDS[kind][1],
            fault=fault, fault_after=self._rng.randint(3, 12), agent_talk_ms=1500,
        )  # fmt: skip
        return call, script

    async def _worker(self, index: int) -> None:
        await asyncio.sleep(index * 0.02)  # ramp up instead of one burst of connects
        while not self._stop.is_set():
            call, script = self._next()
            self.calls.append(call)
            sim = TimedCall(script, time_scale=self.time_scale, write_requested_paths=True)
            sim.channel.variables["ivr_flow"] = "inbound_service"
            call.started_mono = time.monotonic()
            try:
                call.result = await sim.run(self.host, self.port, deadline_s=300)
            except Exception as exc:
                call.error = type(exc).__name__
            call.ended_mono = time.monotonic()
            call.hung_mono = sim.hung_mono

    async def run(self) -> None:
        await asyncio.gather(*(self._worker(i) for i in range(self.concurrency)))


@dataclass
class CalleeBehaviour:
    """The switch's dialling outcomes: busy / no answer by probability per attempt (``mix``),
    otherwise the callee answers and plays the script of its kind (fixed per number); the
    ``always_busy`` numbers (the hot ones, in every campaign) are busy every time, so every
    campaign retries them and only the daily cap stops them."""

    mix: OutcomeMix
    kinds: dict[str, str] = field(default_factory=dict)  # national number -> outbound kind
    always_busy: set[str] = field(default_factory=set)  # retried until the daily cap stops them
    seed: int = 20

    def kind_of(self, national: str) -> str:
        kind = self.kinds.get(national)
        if kind is None:
            rng = random.Random(f"{self.seed}-{national}")
            names = list(OUTBOUND_KINDS)
            kind = rng.choices(names, [OUTBOUND_KINDS[k][0] for k in names])[0]
            self.kinds[national] = kind
        return kind

    def __call__(self, request: OriginateRequest, destination: str) -> DialOutcome:
        if destination[-11:] in self.always_busy:
            return DialOutcome("USER_BUSY", 0.05)
        drawn = self.mix(request, destination)
        if drawn.cause is not None:
            return drawn
        national = destination[-11:]
        turns = OUTBOUND_KINDS[self.kind_of(national)][1]
        return DialOutcome(None, drawn.ring_s, CallerScript(caller="95588", destination=national,
                                                            turns=turns))  # fmt: skip
