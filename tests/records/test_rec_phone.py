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
    assert mask("+1 650 253 0000") == "+1 650***0000"  # another country keeps its code
    assert mask("+852 5123 4567") == "+852 512*4567"


def test_one_masking_rule_across_the_product() -> None:
    from compliance.numbers import mask_e164, parse_number

    for raw in ("13812345678", "+862168888888", "+16502530000", "+85251234567"):
        parsed = parse_number(raw)
        assert parsed is not None
        assert parsed.masked == mask_e164(parsed.e164) == mask(raw)
