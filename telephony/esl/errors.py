"""ESL protocol errors: who broke the protocol, FreeSWITCH (remote) or our own code (local)."""

from __future__ import annotations

from ivr.errors import LocalProtocolError, RemoteProtocolError


class EslRemoteError(RemoteProtocolError):
    """FreeSWITCH (or whatever sits on the other end) sent bytes that are not valid ESL."""


class EslLocalError(LocalProtocolError):
    """Our code built an invalid command or used the codec in the wrong state."""
