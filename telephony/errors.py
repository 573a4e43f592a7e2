"""Errors of the telephony adapters (the codec's own live in :mod:`telephony.esl.errors`)."""

from __future__ import annotations

from ivr.errors import IvrError
from telephony.esl.errors import EslLocalError, EslRemoteError

__all__ = [
    "CallEndedError",
    "CommandFailedError",
    "ConnectionDroppedError",
    "EslLocalError",
    "EslRemoteError",
    "PeerTimeoutError",
]


class CallEndedError(IvrError):
    """The call hung up (caller or us) while an operation was pending: the normal way out."""

    def __init__(self, cause: str | None) -> None:
        super().__init__(f"call ended ({cause or 'unknown cause'})")
        self.cause = cause


class CommandFailedError(IvrError):
    """FreeSWITCH answered a command with ``-ERR`` (a valid reply, an unsuccessful command)."""


class ConnectionDroppedError(EslRemoteError):
    """The peer closed the TCP connection before the call was over."""


class PeerTimeoutError(EslRemoteError):
    """The peer did not answer (or stopped reading) within the allowed time."""
