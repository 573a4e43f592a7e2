"""ivr.phone: E.164 normalisation and masking (inv11)."""

from __future__ import annotations

import pytest

from ivr.phone import CustomerNumber, InvalidPhoneNumberError, customer_number, mask, normalize


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
    assert mask("garbage!") == "withheld"
    assert mask("+1 650 253 0000") == "+1 650***0000"  # another country keeps its code
    assert mask("+852 5123 4567") == "+852 512*4567"


def test_one_masking_rule_across_the_product() -> None:
    from compliance.numbers import mask_e164, parse_number

    for raw in ("13812345678", "+862168888888", "+16502530000", "+85251234567"):
        parsed = parse_number(raw)
        assert parsed is not None
        assert parsed.masked == mask_e164(parsed.e164) == mask(raw)


@pytest.mark.parametrize("raw", ["anonymous", "Anonymous", "private", "unknown", "", "  "])
def test_withheld_caller_ids_are_no_customer_and_mask_as_withheld(raw: str) -> None:
    assert customer_number(raw) is None
    assert mask(raw) == "withheld"


@pytest.mark.parametrize(("raw", "shown"), [("1000", "***0"), ("8001", "***1"), ("12ab", "*2")])
def test_extensions_and_garbage_are_no_customer_and_keep_no_digits_but_one(
    raw: str, shown: str
) -> None:
    assert customer_number(raw) is None
    assert mask(raw) == shown


def test_a_customer_number_prints_masked_only() -> None:
    number = customer_number("138 1234 5678")
    assert number == CustomerNumber("+8613812345678")
    assert number is not None
    assert str(number) == number.masked == "138****5678"
    assert "12345678" not in repr(number)
    assert f"{number}" == "138****5678"
