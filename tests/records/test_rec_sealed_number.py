"""inv11: one way to seal a number (records.sealed_number), used by the vault and the tickets."""

from __future__ import annotations

import os

import pytest

from ivr.crypto import blind_index
from ivr.errors import IntegrityError
from ivr.phone import CustomerNumber, customer_number
from records.keys import Keyring
from records.sealed_number import NumberSealer, SealedNumber


def num(raw: str) -> CustomerNumber:
    number = customer_number(raw)
    assert number is not None
    return number


@pytest.fixture
def sealer() -> NumberSealer:
    return NumberSealer(Keyring.single(os.urandom(16)), os.urandom(16))


def test_inv11_sealed_number_holds_index_mask_and_ciphertext_only(sealer: NumberSealer) -> None:
    sealed = sealer.seal(num("138 1234 5678"), "callback|t-1")
    assert sealed.masked == "138****5678"
    assert sealed.blind_index == sealer.blind_index(num("+8613812345678"))
    for field in (sealed.ciphertext, sealed.wrapped_key):
        assert b"13812345678" not in field and b"12345678" not in field
    assert "5678" not in repr(sealed).replace("138****5678", "")
    assert sealer.unseal(sealed, "callback|t-1") == num("13812345678")


def test_inv11_blind_index_is_the_kernel_hmac_of_e164() -> None:
    key = os.urandom(16)
    sealer = NumberSealer(Keyring.single(os.urandom(16)), key)
    assert sealer.blind_index(num("13812345678")) == blind_index(key, "+8613812345678")


def test_each_seal_has_its_own_data_key_and_nonce(sealer: NumberSealer) -> None:
    a = sealer.seal(num("13812345678"), "ctx")
    b = sealer.seal(num("13812345678"), "ctx")
    assert a.blind_index == b.blind_index
    assert a.ciphertext != b.ciphertext and a.wrapped_key != b.wrapped_key


def test_a_sealed_number_opens_only_on_its_own_row(sealer: NumberSealer) -> None:
    sealed = sealer.seal(num("13812345678"), "callback|t-1")
    with pytest.raises(IntegrityError):
        sealer.unseal(sealed, "callback|t-2")
    other = sealer.seal(num("13900001111"), "callback|t-1")
    mixed = SealedNumber(
        sealed.blind_index, sealed.masked, other.key_id, other.wrapped_key, other.ciphertext
    )
    with pytest.raises(IntegrityError):  # ciphertext and index disagree
        sealer.unseal(mixed, "callback|t-1")


def test_rewrap_moves_the_data_key_to_the_current_master_key() -> None:
    old_key, new_key = os.urandom(16), os.urandom(16)
    bi_key = os.urandom(16)
    old = NumberSealer(Keyring({"old": old_key}, "old"), bi_key)
    sealed = old.seal(num("13812345678"), "ctx")
    rotated = NumberSealer(Keyring({"old": old_key, "new": new_key}, "new"), bi_key)
    moved = rotated.rewrap(sealed, "ctx")
    assert moved.key_id == "new" and moved.ciphertext == sealed.ciphertext
    new_only = NumberSealer(Keyring({"new": new_key}, "new"), bi_key)
    assert new_only.unseal(moved, "ctx") == num("13812345678")
