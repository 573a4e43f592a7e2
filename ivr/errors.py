"""The single error root of the product.

Every error our code raises derives from :class:`IvrError`. Protocol errors are split by who
broke the rules: :class:`RemoteProtocolError` when the peer (FreeSWITCH, Rasa, a webhook) sent
something invalid, :class:`LocalProtocolError` when our own code misused a protocol object.
Library exceptions are translated into these at the adapter edge.

An error a person may read carries a stable message ``code`` and its ``params`` beside the
English text: the console translates the code (``console/web/src/messages.json``), API clients
keep the text. A class may set a default ``code``; without one the console names the problem's
kind.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

Param = str | int | float

_NO_PARAMS: Mapping[str, Param] = MappingProxyType({})


class IvrError(Exception):
    """Root of every error raised by this product."""

    code: str | None = None
    params: Mapping[str, Param] = _NO_PARAMS

    def __init__(
        self, *args: object, code: str | None = None, params: Mapping[str, Param] | None = None
    ) -> None:
        super().__init__(*args)
        if code is not None:
            self.code = code
        if params:
            self.params = MappingProxyType(dict(params))


class ConfigError(IvrError):
    """Settings, rules or flow files are invalid or missing."""


class ProtocolError(IvrError):
    """A protocol was violated."""


class RemoteProtocolError(ProtocolError):
    """The peer violated the protocol (malformed frame, unexpected reply)."""


class LocalProtocolError(ProtocolError):
    """Our own code misused a protocol object (bad command, wrong state)."""


class StoreUnavailableError(IvrError):
    """A backing store (Redis, SQL) failed or timed out."""


class NotAuthorizedError(IvrError):
    """The actor's role does not allow the operation."""

    code = "auth.not_authorized"


class IntegrityError(IvrError):
    """Stored data failed verification (bad tag, broken hash chain)."""


class DependencyUnavailableError(IvrError):
    """An external service (Rasa, ASR, TTS, webhook) is down or too slow."""
