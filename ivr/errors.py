"""The single error root of the product.

Every error our code raises derives from :class:`IvrError`. Protocol errors are split by who
broke the rules: :class:`RemoteProtocolError` when the peer (FreeSWITCH, Rasa, a webhook) sent
something invalid, :class:`LocalProtocolError` when our own code misused a protocol object.
Library exceptions are translated into these at the adapter edge.
"""

from __future__ import annotations


class IvrError(Exception):
    """Root of every error raised by this product."""


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


class IntegrityError(IvrError):
    """Stored data failed verification (bad tag, broken hash chain)."""


class DependencyUnavailableError(IvrError):
    """An external service (Rasa, ASR, TTS, webhook) is down or too slow."""
