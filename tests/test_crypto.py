"""The crypto core against the standard vectors: GB/T 32905 (SM3), GB/T 32907 (SM4), RFC 8998."""

from __future__ import annotations

import hmac

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from ivr.crypto import (
    Sealed,
    blind_index,
    hmac_sm3,
    sm3,
    sm4_ecb_encrypt_block,
    sm4_gcm_decrypt,
    sm4_gcm_encrypt,
)
from ivr.errors import IntegrityError, LocalProtocolError

SM4_KEY = bytes.fromhex("0123456789abcdeffedcba9876543210")


def test_sm3_gbt32905_example_1() -> None:
    assert sm3(b"abc").hex() == ("66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0")


def test_sm3_gbt32905_example_2() -> None:
    assert sm3(b"abcd" * 16).hex() == (
        "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
    )


def test_sm4_gbt32907_example_1() -> None:
    assert sm4_ecb_encrypt_block(SM4_KEY, SM4_KEY).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gbt32907_example_2_million_rounds() -> None:
    enc = Cipher(algorithms.SM4(SM4_KEY), modes.ECB()).encryptor()
    block = SM4_KEY
    for _ in range(1_000_000):
        block = enc.update(block)
    assert block.hex() == "595298c7c6fd271f0402f804c33d3f66"
    assert sm4_ecb_encrypt_block(SM4_KEY, SM4_KEY) == enc.update(SM4_KEY)  # same primitive


def test_sm4_gcm_rfc8998_vector() -> None:
    sealed = sm4_gcm_encrypt(
        SM4_KEY,
        bytes.fromhex(
            "aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd"
            "eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa"
        ),
        aad=bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2"),
        nonce=bytes.fromhex("00001234567800000000abcd"),
    )
    assert sealed.ciphertext.hex() == (
        "17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735"
        "d82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d"
    )
    assert sealed.tag.hex() == "83de3541e4c2b58177e065a9bf7b62ec"


def test_sm4_gcm_round_trip_and_tamper_detection() -> None:
    sealed = sm4_gcm_encrypt(SM4_KEY, b"recording bytes", aad=b"call-1")
    blob = sealed.to_bytes()
    assert sm4_gcm_decrypt(SM4_KEY, Sealed.from_bytes(blob), aad=b"call-1") == b"recording bytes"
    with pytest.raises(IntegrityError):
        sm4_gcm_decrypt(SM4_KEY, Sealed.from_bytes(blob), aad=b"call-2")
    flipped = bytearray(blob)
    flipped[14] ^= 1
    with pytest.raises(IntegrityError):
        sm4_gcm_decrypt(SM4_KEY, Sealed.from_bytes(bytes(flipped)), aad=b"call-1")
    with pytest.raises(IntegrityError):
        Sealed.from_bytes(b"short")
    with pytest.raises(LocalProtocolError):
        sm4_gcm_encrypt(b"short key", b"x")


def test_hmac_sm3_matches_the_rfc2104_construction() -> None:
    for key in (b"k", b"\x0b" * 20, b"x" * 100):  # short, typical and longer than a block
        for msg in (b"", b"Hi There", b"a" * 200):
            ref = hmac.new(key, msg, "sm3").digest()  # OpenSSL SM3 via hashlib
            assert hmac_sm3(key, msg) == ref


def test_blind_index_is_keyed_deterministic_and_opaque() -> None:
    k1, k2 = b"\x01" * 16, b"\x02" * 16
    a = blind_index(k1, "+8613812345678")
    assert a == blind_index(k1, "+8613812345678")
    assert a != blind_index(k2, "+8613812345678")
    assert a != blind_index(k1, "+8613812345679")
    assert len(a) == 64 and "13812345678" not in a
