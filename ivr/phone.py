"""Phone numbers: normalise to E.164 and mask for display and logs (``138****5678``).

Pure helpers over the ``phonenumbers`` library, shared by every package. A clear number is
customer data: store it only SM4-encrypted, look it up by its blind index
(:func:`ivr.crypto.blind_index` of the E.164 form) and show it masked.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from ivr.errors import IvrError

DEFAULT_REGION = "CN"


class InvalidPhoneNumberError(IvrError):
    """The text is not a valid phone number (the message never repeats the number)."""


def normalize(number: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 form (``+8613812345678``) of ``number``, read in ``region`` when national.

    Accepts spaces, dashes, brackets, a ``+86``/``0086`` prefix or a national number.
    Raises :class:`InvalidPhoneNumberError` when it is not a valid number.
    """
    parsed = _parse(number, region)
    if not phonenumbers.is_valid_number(parsed):
        raise InvalidPhoneNumberError("not a valid phone number")
    e164: str = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return e164


WITHHELD = "withheld"
"""How a caller id without digits (``anonymous``, ``private``, empty) is shown."""


@dataclass(frozen=True, slots=True)
class CustomerNumber:
    """A number that identifies a customer: valid, in E.164 (``+8613812345678``).

    Made only by :func:`customer_number` at the edge where a caller id or a list row comes in;
    code further in takes ``CustomerNumber | None`` and so cannot forget the caller who has no
    usable number (withheld, an extension, garbage). ``str()`` and ``repr()`` show the masked
    form, so a stray log line or traceback never carries the clear number.
    """

    e164: str

    @property
    def masked(self) -> str:
        return mask(self.e164)

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"CustomerNumber({self.masked})"


def customer_number(raw: str | None, region: str = DEFAULT_REGION) -> CustomerNumber | None:
    """The customer number in ``raw`` (a caller id, a dialled number, a list cell), or ``None``
    when it identifies no customer: withheld or anonymous, an extension, text that is not a valid
    number."""
    if raw is None or not raw.strip():
        return None
    try:
        return CustomerNumber(normalize(raw, region))
    except InvalidPhoneNumberError:
        return None


def national_digits(e164: str) -> str:
    """The national significant number of an E.164 number, digits only (``13812345678``), as
    a carrier gateway dials it (customer data: never log it)."""
    return str(phonenumbers.national_significant_number(phonenumbers.parse(e164, None)))


def mask(number: str, region: str = DEFAULT_REGION) -> str:
    """The number for display and logs: ``138****5678``; see :func:`mask_parsed`.

    A caller id that is not a phone number is shown without its content: ``withheld`` when it
    has no digits (``anonymous``, ``private``), else its digits starred but for the last one
    (extension ``1000`` reads ``***0``).
    """
    try:
        parsed = _parse(number, region)
    except InvalidPhoneNumberError:
        parsed = None
    if parsed is None or not phonenumbers.national_significant_number(parsed):
        digits = "".join(ch for ch in number if ch.isdigit())
        if not digits:
            return WITHHELD
        return "*" * (len(digits) - 1) + digits[-1]
    return mask_parsed(parsed, region)


def mask_parsed(parsed: phonenumbers.PhoneNumber, region: str = DEFAULT_REGION) -> str:
    """The one masking rule of the product (logs, ledgers, evidence, CLI, console).

    Keeps the first 3 and last 4 digits of the national significant number (11-digit Chinese
    mobiles read ``138****5678``); shorter numbers keep fewer. Numbers of another country than
    ``region`` carry their country code: ``+1 415***2671``.
    """
    digits: str = phonenumbers.national_significant_number(parsed)
    n = len(digits)
    if n >= 8:
        head, tail = 3, 4
    elif n >= 5:
        head, tail = 1, 2
    else:
        head, tail = 0, 1
    masked = digits[:head] + "*" * (n - head - tail) + digits[n - tail :]
    if phonenumbers.region_code_for_number(parsed) == region:
        return masked
    return f"+{parsed.country_code} {masked}"


def _parse(number: str, region: str) -> phonenumbers.PhoneNumber:
    """Parse with ``00`` read as ``+``; raises :class:`InvalidPhoneNumberError`."""
    text = number.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhoneNumberError("not a phone number") from exc
