"""A simulated FreeSWITCH channel: its state and the headers of its events, in capture order.

Header order and content follow FreeSWITCH 1.10.12 (tests/telephony/captures): the event
preamble, the channel block, ``Hangup-Cause`` once hung up, the codec block once media is up,
the ``Caller-*`` profile, the ``variable_*`` block (not on DTMF or CHANNEL_STATE), then the
event's own headers. Values are raw here; the frame encoders URL-encode them.
"""

from __future__ import annotations

import itertools
import time
import uuid as uuidlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import formatdate

CORE_UUID = "5e1a7c9d-0000-4000-8000-5151a7e50001"
HOST = "ivr-sim"
_sequence = itertools.count(1000)

CALLING = {
    "CHANNEL_DATA": ("mod_event_socket.c", "parse_command", "2021"),
    "CHANNEL_PARK": ("switch_ivr.c", "switch_ivr_park", "1002"),
    "CHANNEL_UNPARK": ("switch_ivr.c", "switch_ivr_park", "1213"),
    "CHANNEL_EXECUTE": ("switch_core_session.c", "switch_core_session_exec", "2944"),
    "CHANNEL_EXECUTE_COMPLETE": ("switch_core_session.c", "switch_core_session_exec", "2967"),
    "CHANNEL_PROGRESS_MEDIA": (
        "switch_channel.c",
        "switch_channel_perform_mark_pre_answered",
        "3560",
    ),
    "CHANNEL_ANSWER": ("switch_channel.c", "switch_channel_perform_mark_answered", "3846"),
    "PLAYBACK_START": ("switch_ivr_play_say.c", "switch_ivr_play_file", "1646"),
    "PLAYBACK_STOP": ("switch_ivr_play_say.c", "switch_ivr_play_file", "2020"),
    "RECORD_START": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "767"),
    "RECORD_STOP": ("switch_ivr_play_say.c", "switch_ivr_record_file_event", "1030"),
    "DTMF": ("switch_channel.c", "switch_channel_dequeue_dtmf", "677"),
    "CHANNEL_HANGUP": ("switch_channel.c", "switch_channel_perform_hangup", "3445"),
    "CHANNEL_STATE": ("switch_channel.c", "switch_channel_perform_set_running_state", "2408"),
    "CHANNEL_HANGUP_COMPLETE": (
        "switch_core_state_machine.c",
        "switch_core_session_reporting_state",
        "943",
    ),
    "CHANNEL_BRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "1542"),
    "CHANNEL_UNBRIDGE": ("switch_ivr_bridge.c", "audio_bridge_on_exchange_media", "1731"),
    "BACKGROUND_JOB": ("mod_event_socket.c", "api_exec", "1572"),
    "CHANNEL_CREATE": ("switch_core_state_machine.c", "switch_core_session_run", "626"),
}
STATE_NUMBERS = {"CS_ROUTING": "2", "CS_EXECUTE": "4", "CS_HANGUP": "10", "CS_REPORTING": "11"}
NO_VARIABLES = frozenset({"DTMF", "CHANNEL_STATE"})

Headers = list[tuple[str, str]]


def preamble(name: str) -> Headers:
    """The headers every event starts with."""
    now = time.time()
    file, func, line = CALLING.get(name, ("switch_event.c", "switch_event_fire", "1"))
    return [
        ("Event-Name", name),
        ("Core-UUID", CORE_UUID),
        ("FreeSWITCH-Hostname", HOST),
        ("FreeSWITCH-Switchname", HOST),
        ("FreeSWITCH-IPv4", "127.0.0.1"),
        ("FreeSWITCH-IPv6", "::1"),
        ("Event-Date-Local", time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))),
        ("Event-Date-GMT", formatdate(now, usegmt=True)),
        ("Event-Date-Timestamp", str(int(now * 1_000_000))),
        ("Event-Calling-File", file),
        ("Event-Calling-Function", func),
        ("Event-Calling-Line-Number", line),
        ("Event-Sequence", str(next(_sequence))),
    ]


@dataclass
class SimChannel:
    """State of one simulated call leg."""

    caller: str
    destination: str
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    state: str = "CS_EXECUTE"
    call_state: str = "RINGING"
    answer_state: str = "ringing"
    media: bool = False
    hangup_cause: str | None = None
    created_us: int = field(default_factory=lambda: int(time.time() * 1_000_000))
    answered_us: int = 0
    variables: dict[str, str] = field(default_factory=dict)
    direction: str = "inbound"
    context: str = "default"

    def __post_init__(self) -> None:
        base = {
            "direction": self.direction,
            "uuid": self.uuid,
            "session_id": "1",
            "sip_from_user": self.caller,
            "sip_from_host": "127.0.0.1",
            "channel_name": self.name,
            "sip_user_agent": "ivr-simulator",
            "sip_to_user": self.destination,
            "sip_req_user": self.destination,
            "DP_MATCH": f"ARRAY::{self.destination}|:{self.destination}",
            "current_application": "socket",
        }
        base.update(self.variables)
        self.variables = base

    @property
    def name(self) -> str:
        """The channel name (``sofia/internal/<caller>@127.0.0.1``)."""
        return f"sofia/internal/{self.caller}@127.0.0.1"

    def profile_fields(self) -> dict[str, str]:
        """The caller-profile fields a dialplan condition can test (``destination_number``...)."""
        return {
            "destination_number": self.destination,
            "caller_id_number": self.caller,
            "caller_id_name": self.caller,
            "ani": self.caller,
            "username": self.caller,
            "network_addr": "127.0.0.1",
            "context": self.context,
            "dialplan": "XML",
            "uuid": self.uuid,
            "source": "mod_sofia",
            "chan_name": self.name,
        }

    def _profile(self, prefix: str) -> Headers:
        p = prefix
        return [
            (f"{p}-Direction", self.direction),
            (f"{p}-Logical-Direction", self.direction),
            (f"{p}-Username", self.caller),
            (f"{p}-Dialplan", "XML"),
            (f"{p}-Caller-ID-Name", self.caller),
            (f"{p}-Caller-ID-Number", self.caller),
            (f"{p}-Orig-Caller-ID-Name", self.caller),
            (f"{p}-Orig-Caller-ID-Number", self.caller),
            (f"{p}-Network-Addr", "127.0.0.1"),
            (f"{p}-ANI", self.caller),
            (f"{p}-Destination-Number", self.destination),
            (f"{p}-Unique-ID", self.uuid),
            (f"{p}-Source", "mod_sofia"),
            (f"{p}-Context", self.context),
            (f"{p}-Channel-Name", self.name),
            (f"{p}-Profile-Index", "1"),
            (f"{p}-Profile-Created-Time", str(self.created_us)),
            (f"{p}-Channel-Created-Time", str(self.created_us)),
            (f"{p}-Channel-Answered-Time", str(self.answered_us)),
            (f"{p}-Channel-Progress-Time", "0"),
            (f"{p}-Channel-Progress-Media-Time", str(self.answered_us)),
            (f"{p}-Channel-Hangup-Time", "0"),
            (f"{p}-Channel-Transfer-Time", "0"),
            (f"{p}-Channel-Resurrect-Time", "0"),
            (f"{p}-Channel-Bridged-Time", "0"),
            (f"{p}-Channel-Last-Hold", "0"),
            (f"{p}-Channel-Hold-Accum", "0"),
            (f"{p}-Screen-Bit", "true"),
            (f"{p}-Privacy-Hide-Name", "false"),
            (f"{p}-Privacy-Hide-Number", "false"),
        ]

    def _channel_block(self) -> Headers:
        return [
            ("Channel-State", self.state),
            ("Channel-Call-State", self.call_state),
            ("Channel-State-Number", STATE_NUMBERS.get(self.state, "4")),
            ("Channel-Name", self.name),
            ("Unique-ID", self.uuid),
            ("Call-Direction", self.direction),
            ("Presence-Call-Direction", self.direction),
            ("Channel-HIT-Dialplan", "true"),
            ("Channel-Presence-ID", f"{self.caller}@127.0.0.1"),
            ("Channel-Call-UUID", self.uuid),
            ("Answer-State", self.answer_state),
        ]

    def _codec_block(self) -> Headers:
        if not self.media:
            return []
        return [
            ("Channel-Read-Codec-Name", "PCMU"),
            ("Channel-Read-Codec-Rate", "8000"),
            ("Channel-Read-Codec-Bit-Rate", "64000"),
            ("Channel-Write-Codec-Name", "PCMU"),
            ("Channel-Write-Codec-Rate", "8000"),
            ("Channel-Write-Codec-Bit-Rate", "64000"),
        ]

    def channel_data(self) -> Headers:
        """The headers of the ``connect`` reply (CHANNEL_DATA), without the reply trailer."""
        return [
            *preamble("CHANNEL_DATA"),
            *self._profile("Channel"),
            *self._channel_block(),
            *self._profile("Caller"),
            *self.variable_headers(),
        ]

    def variable_headers(self) -> Headers:
        """``variable_*`` headers of every channel variable."""
        return [(f"variable_{k}", v) for k, v in self.variables.items()]

    def event(self, name: str, extra: Sequence[tuple[str, str]] = ()) -> Headers:
        """The headers of event ``name`` about this channel, then ``extra``."""
        headers = preamble(name)
        channel = self._channel_block()
        if self.hangup_cause is not None:
            if name == "CHANNEL_HANGUP_COMPLETE":
                headers.append(("Hangup-Cause", self.hangup_cause))
            else:
                channel.append(("Hangup-Cause", self.hangup_cause))
        headers += channel
        headers += self._codec_block()
        headers += self._profile("Caller")
        if name not in NO_VARIABLES:
            headers += self.variable_headers()
        headers += extra
        return headers
