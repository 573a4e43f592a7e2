"""End to end through the FreeSWITCH simulator: the shipped flows drive real ESL calls through the
orchestrator, the real Rasa server (NLU and bot), the compliance stores, the evidence chain and
the recording vault. Caller speech is scripted text (a transcript sidecar) unless a test says it
is real audio through faster-whisper."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flow_support import CallOutcome, FlowStack

from compliance.decision import GateRequest
from flows.adapters import SidecarListener
from flows.orchestrator import CallDeps
from ivr.errors import ConfigError
from ivr.evidence import EvidenceKind
from ivr.phone import CustomerNumber, customer_number
from records.vault import Actor, RecordingQuery
from shell.services import free_port
from speech.ports import Transcript
from telephony.simulator import CallerScript, Turn

pytestmark = [pytest.mark.rasa, pytest.mark.slow]

CUSTOMER = "13912345678"


def _customer(raw: str) -> CustomerNumber:
    made = customer_number(raw)
    assert made is not None
    return made


CUSTOMER_NUMBER = _customer(CUSTOMER)
DAYTIME = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)  # 11:00 Asia/Shanghai
SAMPLES = Path(__file__).resolve().parent.parent / "speech" / "fixtures"


class Stack:
    """The flow stack (:class:`flow_support.FlowStack`), placing calls from caller turns."""

    def __init__(self, flows: FlowStack) -> None:
        self.flows = flows
        self.built = flows.built
        self.settings = flows.settings
        self.flows_dir = flows.flows_dir

    @property
    def deps(self) -> CallDeps:
        return self.flows.deps

    def use(self, **changes: Any) -> None:
        self.flows.use(**changes)

    async def place(self, flow: str, turns: tuple[Turn, ...] = (), **script: Any) -> CallOutcome:
        destination = str(script.pop("destination", "95588"))
        caller = str(script.pop("caller", CUSTOMER))
        variables = {"ivr_customer_number": CUSTOMER} if flow.startswith("outbound") else {}
        return await self.flows.place(
            flow,
            CallerScript(caller=caller, destination=destination, turns=turns, **script),
            variables=variables,
        )


def say(text: str) -> Turn:
    return Turn.say(transcript=text)


class SlowCrm:
    """A CRM endpoint that answers after ``delay_s`` (for the webhook timeout scenario)."""

    def __init__(self, delay_s: float, body: bytes = b'{"risk_level": "high"}') -> None:
        self.delay_s, self.body = delay_s, body
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.read(65536)
            await asyncio.sleep(self.delay_s)
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                + f"Content-Length: {len(self.body)}\r\nConnection: close\r\n\r\n".encode()
                + self.body
            )
            await writer.drain()
            writer.close()

        self.server = await asyncio.start_server(answer, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/risk"


@pytest.fixture
def stack(flow_stack: FlowStack) -> Stack:
    return Stack(flow_stack)


def pitch_file(stack: Stack) -> str:
    cache = stack.deps.prompts.cache  # type: ignore[attr-defined]
    flow = stack.deps.registry.get("outbound_marketing")
    from flows.interpreter import render

    text = render(flow.prompts["pitch"].text or "", flow.flow.variables)
    name: str = cache.path_for(text).name
    return name


# ---- inbound service ----


async def test_inv4_inbound_disclosure_first_then_menu_account_and_bot(stack: Stack) -> None:
    call = await stack.place("inbound_service", (Turn.press("1"), say("好的再见")))
    kinds = call.kinds()
    assert kinds[0] == "call_started"
    assert kinds[1] == "disclosure_played"
    first_play = call.apps.index("playback")
    assert call.apps[0] == "answer" and "record_session" in call.apps[:first_play]
    assert "play_and_get_digits" not in call.apps[:first_play]  # the disclosure is first
    assert kinds[-3:] == ["call_ended", "recording_stored", "qa_result"]  # QA once it is over
    assert call.payload(EvidenceKind.CALL_ENDED)["last_node"] in ("assistant", "goodbye")


async def test_hangup_during_disclosure_ends_cleanly_without_disclosure_evidence(
    stack: Stack,
) -> None:
    call = await stack.place("inbound_service", hangup_during="playback")
    assert "disclosure_played" not in call.kinds()
    ended = call.payload(EvidenceKind.CALL_ENDED)
    assert ended["reason"] == "caller_hangup" and ended["last_node"] == "disclosure"
    assert call.hangup_by == "caller"


async def test_inv4_dtmf_during_disclosure_is_ignored(stack: Stack) -> None:
    call = await stack.place(
        "inbound_service", (Turn.press("0"),), digits="9", digits_on_answer=True
    )
    assert call.payload(EvidenceKind.DISCLOSURE_PLAYED)["prompt"] == "disclosure"
    assert call.transfer == "queue_general XML ivr"  # the 0 counted, the 9 did not


async def test_menu_zero_in_business_hours_transfers_to_general(stack: Stack) -> None:
    call = await stack.place("inbound_service", (Turn.press("0"),))
    escalated = call.payload(EvidenceKind.ESCALATED)
    assert (escalated["queue"], escalated["priority"]) == ("general", 5)
    assert call.transfer == "queue_general XML ivr"


async def test_inv7_spoken_complaint_goes_to_senior_with_priority(stack: Stack) -> None:
    call = await stack.place("inbound_service", (say("我要投诉你们的服务"),))
    escalated = call.payload(EvidenceKind.ESCALATED)
    assert (escalated["queue"], escalated["priority"]) == ("senior", 9)
    assert call.transfer == "queue_senior XML ivr"
    assert "set" in call.apps  # cc_base_score raised for priority


async def test_inv7_no_free_agent_gives_a_callback_ticket(stack: Stack) -> None:
    call = await stack.place("inbound_service", (Turn.press("0"),), agent_available=False)
    assert call.transfer is None
    assert "callback_scheduled" in call.kinds()
    tickets = stack.deps.tickets.for_call(call.call_id)  # type: ignore[attr-defined]
    assert len(tickets) == 1 and tickets[0].masked_number == "139****5678"
    assert call.payload(EvidenceKind.CALL_ENDED)["last_node"] == "goodbye"


async def test_crm_webhook_timeout_takes_the_default_branch(stack: Stack) -> None:
    crm = SlowCrm(delay_s=3.0)
    url = await crm.start()
    path = stack.flows_dir / "inbound_service.yaml"
    path.write_text(path.read_text().replace("http://127.0.0.1:8000/api/v1/demo/crm/risk", url))
    assert stack.deps.registry.reload() == ["inbound_service"]
    call = await stack.place("inbound_service", (Turn.press("0"),))
    assert call.payload(EvidenceKind.ESCALATED)["queue"] == "general"  # menu, not senior
    assert crm.server is not None
    crm.server.close()


async def test_crm_high_risk_routes_to_senior(stack: Stack) -> None:
    crm = SlowCrm(delay_s=0.0, body=b'{"risk_level": "high"}')
    url = await crm.start()
    path = stack.flows_dir / "inbound_service.yaml"
    path.write_text(path.read_text().replace("http://127.0.0.1:8000/api/v1/demo/crm/risk", url))
    stack.deps.registry.reload()
    call = await stack.place("inbound_service")
    assert call.payload(EvidenceKind.ESCALATED)["queue"] == "senior"
    assert crm.server is not None
    crm.server.close()


@pytest.mark.parametrize(
    "flow_stack", [{"rasa_url": f"http://127.0.0.1:{free_port()}"}], indirect=True
)
async def test_rasa_down_falls_back_to_a_human_never_silence(stack: Stack) -> None:
    call = await stack.place("inbound_service", (Turn.press("2"), say("我想查账单")))
    assert call.transfer == "queue_general XML ivr"
    assert call.payload(EvidenceKind.ESCALATED)["queue"] == "general"


async def test_caller_hangup_mid_menu_writes_end_evidence_and_stores_recording(
    stack: Stack,
) -> None:
    call = await stack.place("inbound_service", (Turn.hang_up(),))
    ended = call.payload(EvidenceKind.CALL_ENDED)
    assert ended["reason"] == "caller_hangup" and ended["last_node"] == "menu"
    vault = stack.deps.recordings.vault  # type: ignore[union-attr]
    found = vault.search(Actor("qa", "compliance_officer"), RecordingQuery(call_id=call.call_id))
    assert len(found) == 1 and found[0].direction == "inbound"


# ---- outbound marketing ----


async def test_inv5_consent_granted_then_pitch_with_risk_warning(stack: Stack) -> None:
    call = await stack.place("outbound_marketing", (Turn.press("1"), say("好的再见")))
    consents = await stack.built.compliance.list_consents(CUSTOMER_NUMBER)
    assert [c.purpose for c in consents] == ["marketing"]
    assert consents[0].call_id == call.call_id
    assert pitch_file(stack) in call.played
    pitch_at = call.played.index(pitch_file(stack))
    assert pitch_at > 1  # after the disclosure and the consent question


async def test_inv6_spoken_refusal_of_consent_goes_to_dnc_and_no_marketing(stack: Stack) -> None:
    call = await stack.place("outbound_marketing", (say("不需要谢谢"),))
    assert "consent_refused" in call.kinds()
    assert pitch_file(stack) not in call.played
    entry = await stack.built.compliance.dnc_entry(CUSTOMER_NUMBER)
    assert entry is not None and entry.call_id == call.call_id
    decision = await stack.built.compliance.dry_run(
        GateRequest(CUSTOMER, "marketing", "attempt-2"), at=DAYTIME
    )
    assert not decision.allowed and "dnc" in [r.value for r in decision.reasons]


async def test_inv6_refusal_during_questions_goes_to_dnc(stack: Stack) -> None:
    call = await stack.place("outbound_marketing", (Turn.press("1"), say("以后别再给我打电话了")))
    assert await stack.built.compliance.is_dnc(CUSTOMER_NUMBER)
    assert call.payload(EvidenceKind.CALL_ENDED)["reason"] == "refused"


async def test_consent_no_answer_closes_without_dnc(stack: Stack) -> None:
    call = await stack.place("outbound_marketing", (Turn.silent(), Turn.silent()))
    assert not await stack.built.compliance.is_dnc(CUSTOMER_NUMBER)
    assert pitch_file(stack) not in call.played
    assert call.payload(EvidenceKind.CALL_ENDED)["last_node"] == "no_answer"


async def test_real_audio_refusal_through_whisper_goes_to_dnc(stack: Stack) -> None:
    from flows.adapters import AsrListener
    from speech.factory import build_asr

    stack.use(listener=SidecarListener(AsrListener(build_asr(stack.settings))))
    call = await stack.place("outbound_marketing", (Turn.say(SAMPLES / "a08.wav"),))
    assert await stack.built.compliance.is_dnc(CUSTOMER_NUMBER)
    assert "consent_refused" in call.kinds()


# ---- outbound notice ----


async def test_notice_repeat_then_goodbye_without_consent(stack: Stack) -> None:
    call = await stack.place("outbound_notice", (Turn.press("1"), Turn.silent()))
    assert "consent_granted" not in call.kinds() and "consent_refused" not in call.kinds()
    assert call.payload(EvidenceKind.CALL_ENDED)["last_node"] == "goodbye"
    assert call.apps.count("play_and_get_digits") == 2


async def test_notice_zero_transfers_to_a_human(stack: Stack) -> None:
    call = await stack.place("outbound_notice", (Turn.press("0"),))
    assert call.transfer == "queue_general XML ivr"


# ---- versions and evidence ----


async def test_invalid_flow_change_is_rejected_while_calls_go_on(stack: Stack) -> None:
    before = stack.deps.registry.get("outbound_notice").version
    path = stack.flows_dir / "outbound_notice.yaml"
    path.write_text(path.read_text().replace("next: goodbye", "next: nowhere"))
    assert stack.deps.registry.reload() == []
    assert "outbound_notice.yaml" in stack.deps.registry.rejected
    call = await stack.place("outbound_notice", (Turn.press("0"),))
    assert call.payload(EvidenceKind.CALL_STARTED)["flow_version"] == before


async def test_inv12_calls_leave_a_valid_evidence_chain(stack: Stack) -> None:
    await stack.place("outbound_marketing", (Turn.press("2"),))
    result = stack.deps.evidence.verify()  # type: ignore[attr-defined]
    assert result.ok, result


async def test_unknown_flow_is_a_config_error(stack: Stack) -> None:
    with pytest.raises(ConfigError):
        stack.deps.registry.get("no_such_flow")


# ---- speech engines down: never silence ----


class BrokenListener:
    async def transcribe(self, wav: Path) -> Transcript:
        raise RuntimeError("ASR engine crashed")


class FailingPrompts:
    """TTS that fails for dynamic (sensitive) text, or for everything."""

    def __init__(self, inner, *, everything: bool) -> None:
        self.inner, self.everything = inner, everything

    async def file_for(self, text: str, *, sensitive: bool, scratch: Path) -> Path:
        if self.everything or sensitive:
            raise OSError("TTS engine unavailable")
        path: Path = await self.inner.file_for(text, sensitive=sensitive, scratch=scratch)
        return path


async def test_asr_down_falls_back_to_dtmf_menu(stack: Stack) -> None:
    stack.use(listener=BrokenListener())
    call = await stack.place("inbound_service", (say("我要投诉"), Turn.press("0")))
    assert call.transfer == "queue_general XML ivr"
    assert call.apps.count("play_and_get_digits") >= 1  # the retry was a DTMF menu


async def test_tts_down_for_bot_replies_takes_the_bot_fallback(stack: Stack) -> None:
    stack.use(prompts=FailingPrompts(stack.deps.prompts, everything=False))
    call = await stack.place("inbound_service", (Turn.press("2"), say("我想查一下信用卡账单")))
    assert call.transfer == "queue_general XML ivr"


async def test_tts_down_entirely_hands_the_caller_to_a_human(stack: Stack) -> None:
    stack.use(prompts=FailingPrompts(stack.deps.prompts, everything=True))
    call = await stack.place("inbound_service")
    assert call.transfer == "queue_general XML ivr"
    assert call.payload(EvidenceKind.ESCALATED)["reason"] == "tts_unavailable"
