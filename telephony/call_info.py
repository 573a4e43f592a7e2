"""What a :class:`~telephony.session.CallSession` reports: results of its applications and the
facts about the channel it read at ``connect`` (frozen values, no IO).

:class:`SocketMode` is the connect reply's ``Socket-Mode``/``Control``; :class:`QueueExit` is how
the channel left a mod_callcenter queue (``cc_queue``, ``cc_cause``, ``cc_cancel_reason``, set by
mod_callcenter on the member channel) before the ``callback_ticket`` extension brought it back
to the socket; :class:`DigitsResult` and :class:`PlaybackResult` are what ``play_and_get_digits``
and an interruptible ``playback`` report in their CHANNEL_EXECUTE_COMPLETE.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypedDict

from telephony.esl import Event


@dataclass(frozen=True, slots=True)
class RecordResult:
    """What ``record`` reports: the file, whether silence ended it, the recorded milliseconds."""

    path: str
    silence_ended: bool
    duration_ms: int | None


class DigitOptions(TypedDict, total=False):
    """Options of ``play_and_get_digits`` (see :data:`DIGIT_DEFAULTS`)."""

    min_digits: int
    max_digits: int
    tries: int
    timeout_ms: int
    terminators: str
    invalid_prompt: str
    regex: str
    variable: str
    digit_timeout_ms: int


DIGIT_DEFAULTS: DigitOptions = {
    "min_digits": 1,
    "max_digits": 1,
    "timeout_ms": 5000,
    "terminators": "#",
    "invalid_prompt": "silence_stream://250",
    "regex": "\\d+",
    "variable": "pagd_digits",
}


@dataclass(frozen=True, slots=True)
class DigitsResult:
    """``play_and_get_digits``: the digits (``""`` if nothing valid), ``read_result``
    (``success``/``failure``/``timeout``), the terminator pressed, and the last invalid entry."""

    digits: str
    result: str | None
    terminator: str | None
    invalid: str | None


@dataclass(frozen=True, slots=True)
class PlaybackResult:
    """An interruptible ``playback``: its response (``FILE PLAYED``...), the
    ``playback_terminators`` digit that ended it (``None`` if it played out or was broken by
    ``uuid_break``), the milliseconds played, and the digits pressed so far and not yet read
    (:meth:`CallSession.pending_dtmf`; they stay queued)."""

    response: str
    terminator: str | None
    played_ms: int | None
    digits: str


@dataclass(frozen=True, slots=True)
class SocketMode:
    """How FreeSWITCH runs this socket session (``socket <addr> async full`` is needed)."""

    mode: str | None
    control: str | None

    @property
    def usable(self) -> bool:
        return self.mode == "async" and self.control == "full"


@dataclass(frozen=True, slots=True)
class QueueExit:
    """How the channel left a mod_callcenter queue: ``cause`` ``answered`` or ``cancel``,
    ``cancel_reason`` ``NO_AGENT_TIMEOUT``, ``TIMEOUT``, ``BREAK_OUT``, ``EXIT_WITH_KEY``..."""

    queue: str
    cause: str | None
    cancel_reason: str | None

    @property
    def no_agent(self) -> bool:
        """True when the caller left because no agent took the call in time."""
        return self.cause == "cancel" and self.cancel_reason in ("NO_AGENT_TIMEOUT", "TIMEOUT")

    @classmethod
    def from_variables(cls, variables: Mapping[str, str]) -> QueueExit | None:
        queue = variables.get("cc_queue")
        if not queue:
            return None
        return cls(queue, variables.get("cc_cause"), variables.get("cc_cancel_reason"))


class ChannelView:
    """The channel as the ``connect`` reply (CHANNEL_DATA) showed it."""

    channel_data: Event

    @property
    def caller_number(self) -> str | None:
        """The caller's number (customer data: never log it)."""
        return self.channel_data.get("Caller-Caller-ID-Number")

    @property
    def destination_number(self) -> str | None:
        """The dialled number (the service line)."""
        return self.channel_data.get("Caller-Destination-Number")

    def variable(self, name: str) -> str | None:
        """A channel variable as it was at connect time."""
        return self.channel_data.get(f"variable_{name}")

    @property
    def channel_variables(self) -> dict[str, str]:
        """Every channel variable as it was at connect time (customer data: never log it)."""
        prefix = "variable_"
        return {
            name[len(prefix) :]: value
            for name, value in self.channel_data.headers.items()
            if name.startswith(prefix)
        }

    @property
    def socket_mode(self) -> SocketMode:
        """``Socket-Mode``/``Control`` of the connect reply (the server needs async/full)."""
        return SocketMode(self.channel_data.get("Socket-Mode"), self.channel_data.get("Control"))

    @property
    def is_callback_return(self) -> bool:
        """True when the ``callback_ticket`` extension brought this channel back after a queue
        (the same uuid as an earlier session of this call)."""
        return (self.variable("ivr_callback_requested") or "").lower() == "true"

    @property
    def is_abandoned_return(self) -> bool:
        """True when the ``campaign_abandoned`` extension brought this channel back: an agent
        campaign's answered call found no agent within the campaign queue's ``max-wait-time``."""
        return (self.variable("ivr_abandoned") or "").lower() == "true"

    @property
    def queue_exit(self) -> QueueExit | None:
        """How the channel left its mod_callcenter queue, if it was in one."""
        return QueueExit.from_variables(self.channel_variables)

    @property
    def recording_path(self) -> str | None:
        """The file of the dialplan's ``record_session`` (``ivr_recording_path``), if any."""
        return self.variable("ivr_recording_path")


def digits_result(done: Event, variable: str) -> DigitsResult:
    """The :class:`DigitsResult` in a ``play_and_get_digits`` completion's headers."""
    return DigitsResult(
        done.get(f"variable_{variable}") or "",
        done.get("variable_read_result") or None,
        done.get("variable_read_terminator_used") or None,
        done.get(f"variable_{variable}_invalid") or None,
    )


def int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None
