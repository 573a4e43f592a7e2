"""Phone-number normalisation and callee time zones (pure core, on ``phonenumbers``).

Numbers without a ``+`` are read as mainland China numbers. The callee's zone is the customer
profile's zone when known, else the number's: every zone ``phonenumbers`` gives for it (a
country spanning several zones yields several; the gate then requires the window to hold in all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as pn_timezone

from ivr.phone import mask_parsed

DEFAULT_REGION = "CN"
_UNKNOWN_ZONE = "Etc/Unknown"


@dataclass(frozen=True, slots=True)
class Number:
    """A valid, normalised phone number."""

    e164: str
    country: str | None  # ISO 3166 region, e.g. "CN"
    zones: tuple[str, ...]  # IANA zones from the number's data, never empty
    masked: str  # "138****5678" (ivr.phone.mask_parsed), safe for logs


def mask_e164(e164: str) -> str:
    """``+8613812345678`` -> ``138****5678`` (the product's one rule, :func:`ivr.phone.mask`)."""
    try:
        num = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "***"
    return mask_parsed(num, DEFAULT_REGION)


@lru_cache(maxsize=65536)
def parse_number(raw: str, default_zone: str = "Asia/Shanghai") -> Number | None:
    """Parse and validate; ``None`` for anything that is not a valid dialable number."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    cleaned = re.sub(r"[\s\-()]", "", raw)
    try:
        num = phonenumbers.parse(cleaned, DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(num):
        return None
    e164 = phonenumbers.format_number(num, phonenumbers.PhoneNumberFormat.E164)
    country = phonenumbers.region_code_for_number(num)
    zones = tuple(
        z for z in pn_timezone.time_zones_for_number(num) if z != _UNKNOWN_ZONE and _known(z)
    )
    if not zones:
        zones = (default_zone,)
    return Number(e164=e164, country=country, zones=zones, masked=mask_parsed(num, DEFAULT_REGION))


@lru_cache(maxsize=512)
def _known(zone: str) -> bool:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def zone_or_none(zone: str | None) -> ZoneInfo | None:
    """A profile zone if it names a real zone, else ``None`` (the number's zones are used)."""
    if zone and _known(zone):
        return ZoneInfo(zone)
    return None
