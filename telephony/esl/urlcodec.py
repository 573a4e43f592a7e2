"""FreeSWITCH's URL encoding of event header values (``switch_url_encode`` / ``switch_url_decode``).

Plain events and the outbound ``connect`` reply carry URL-encoded header values. FreeSWITCH
escapes control characters, bytes above 0x7E and the characters of ``_UNSAFE``; ``(``, ``,``
and ``/`` stay as they are (``tone_stream%3A//%25(200,50,600)`` in the captures).
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import unquote

_UNSAFE = '\r\n "#%&+:;<=>?@[\\]^`{|}'

_TABLE: dict[int, str] = {}
for _b in range(256):
    if _b < 0x20 or _b > 0x7E or chr(_b) in _UNSAFE:
        _TABLE[_b] = f"%{_b:02X}"
    else:
        _TABLE[_b] = chr(_b)
_SAFE_CHARS = frozenset(c for c in map(chr, range(0x20, 0x7F)) if c not in _UNSAFE)


@lru_cache(maxsize=16384)
def url_encode(value: str) -> str:
    """Encode ``value`` the way FreeSWITCH encodes plain-event header values."""
    if _SAFE_CHARS.issuperset(value):
        return value
    table = _TABLE
    return "".join([table[b] for b in value.encode("utf-8")])


def url_decode(value: str) -> str:
    """Decode a URL-encoded header value (``%XX`` sequences, UTF-8); ``+`` stays ``+``."""
    if "%" not in value:
        return value
    return unquote(value, errors="surrogateescape")
