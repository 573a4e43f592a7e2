"""ivr.phone: E.164 normalisation and masking (inv11)."""

from __future__ import annotations

import pytest

from ivr.phone import InvalidPhoneNumberError, mask, normalize


@pytest.mark.parametrize(
    "raw", ["13812345678", "138 1234 5678", "138-1234-5678", "+86 138 1234 5678", "008613812345678"]
)
def test_normalize_mobile(raw: str) -> None:
    assert normalize(raw) == "+8613812345678"


def test_normalize_landline_and_foreign() -> None:
    assert normalize("021-6888 8888") == "+862168888888"
    assert normalize("+1 650 253 0000") == "+16502530000"


@pytest.mark.parametrize("raw", ["", "abc", "123", "1381234567"])
def test_normalize_refuses_invalid_without_echoing(raw: str) -> None:
    with pytest.raises(InvalidPhoneNumberError) as info:
        normalize(raw)
    assert raw not in str(info.value) or raw == ""


def test_mask() -> None:
    assert mask("+8613812345678") == "138****5678"
    assert mask("13812345678") == "138****5678"
    assert mask("+862168888888") == "216***8888"
    assert mask("garbage!") == "******e!"
