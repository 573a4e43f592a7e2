"""Voice directives: what the bot asks the telephony layer to do, and their wire format.

The action server sends directives to Rasa as custom JSON payloads; Rasa returns them through
the REST channel; :func:`parse_bot_messages` turns the REST reply into frozen directive values.
Pure code: no IO. The payload builders are used by ``actions/`` so both sides share one schema.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ivr.errors import RemoteProtocolError

SAY = "say"
TRANSFER = "transfer"
HANGUP = "hangup"
CALLBACK = "callback"


@dataclass(frozen=True, slots=True)
class Say:
    """Speak ``text``. ``barge_in=False`` for disclosures and mandatory risk warnings."""

    text: str
    barge_in: bool = True
    kind: str = "reply"


@dataclass(frozen=True, slots=True)
class Transfer:
    """Hand the caller to a human queue (``senior`` or ``general``)."""

    queue: str
    priority: int
    reason: str
    flagged: bool = False


@dataclass(frozen=True, slots=True)
class Hangup:
    """End the call with a FreeSWITCH hangup cause.

    ``outcome`` tells the dialler how the call ended (``completed``, ``refused``,
    ``wrong_number``, ``no_input``, ``callback``, ...). ``dnc_recorded=False`` on a refusal means
    the bot could not make the DNC entry durable: the orchestrator must add it before teardown.
    """

    cause: str = "NORMAL_CLEARING"
    outcome: str = "completed"
    dnc_recorded: bool | None = None


@dataclass(frozen=True, slots=True)
class Callback:
    """The caller asked to be called back; ``requested`` is their words ("明天下午三点") or None.

    The dialler schedules the callback; its compliance gate decides the actual time.
    """

    requested: str | None
    reason: str = "busy"


Directive = Say | Transfer | Hangup | Callback


def say_payload(text: str, *, barge_in: bool = True, kind: str = "reply") -> dict[str, Any]:
    """Custom payload asking the telephony layer to speak ``text``."""
    return {"directive": SAY, "text": text, "barge_in": barge_in, "kind": kind}


def transfer_payload(
    queue: str, *, priority: int, reason: str, flagged: bool = False
) -> dict[str, Any]:
    """Custom payload asking for a transfer to a human queue (``flagged`` for high risk)."""
    return {
        "directive": TRANSFER,
        "queue": queue,
        "priority": priority,
        "reason": reason,
        "flagged": flagged,
    }


def hangup_payload(
    cause: str = "NORMAL_CLEARING", *, outcome: str = "completed", dnc_recorded: bool | None = None
) -> dict[str, Any]:
    """Custom payload asking the telephony layer to hang up."""
    payload: dict[str, Any] = {"directive": HANGUP, "cause": cause, "outcome": outcome}
    if dnc_recorded is not None:
        payload["dnc_recorded"] = dnc_recorded
    return payload


def callback_payload(requested: str | None, *, reason: str = "busy") -> dict[str, Any]:
    """Custom payload asking the dialler to schedule a callback."""
    return {"directive": CALLBACK, "requested": requested, "reason": reason}


def parse_bot_messages(messages: Sequence[Mapping[str, Any]]) -> list[Directive]:
    """Directives from a REST channel reply (a list of ``{"text"|"custom": ...}`` objects).

    Plain ``text`` messages (domain responses) become interruptible :class:`Say` directives.
    """
    directives: list[Directive] = []
    for message in messages:
        if not isinstance(message, Mapping):
            raise RemoteProtocolError("Rasa reply item is not an object")
        custom = message.get("custom")
        if custom is not None:
            directives.append(_parse_custom(custom))
        elif isinstance(message.get("text"), str):
            directives.append(Say(text=message["text"]))
    return directives


def _parse_custom(custom: Any) -> Directive:
    if not isinstance(custom, Mapping):
        raise RemoteProtocolError("custom payload is not an object")
    kind = custom.get("directive")
    try:
        if kind == SAY:
            return Say(
                text=str(custom["text"]),
                barge_in=bool(custom.get("barge_in", True)),
                kind=str(custom.get("kind", "reply")),
            )
        if kind == TRANSFER:
            return Transfer(
                queue=str(custom["queue"]),
                priority=int(custom["priority"]),
                reason=str(custom["reason"]),
                flagged=bool(custom.get("flagged", False)),
            )
        if kind == HANGUP:
            recorded = custom.get("dnc_recorded")
            return Hangup(
                cause=str(custom.get("cause", "NORMAL_CLEARING")),
                outcome=str(custom.get("outcome", "completed")),
                dnc_recorded=None if recorded is None else bool(recorded),
            )
        if kind == CALLBACK:
            requested = custom.get("requested")
            return Callback(
                requested=None if requested is None else str(requested),
                reason=str(custom.get("reason", "busy")),
            )
    except (KeyError, TypeError, ValueError) as exc:
        raise RemoteProtocolError(f"malformed {kind} directive: {exc}") from exc
    raise RemoteProtocolError(f"unknown directive {kind!r}")
