"""inv12: the pure hash chain detects modification, deletion, reordering and truncation."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ivr.crypto import sm3
from ivr.errors import IntegrityError, LocalProtocolError
from records.chain import (
    GENESIS_HASH,
    Checkpoint,
    Entry,
    canonical,
    check_payload,
    entry_hash,
    link,
    verify,
)


def build(n: int) -> list[Entry]:
    entries: list[Entry] = []
    prev, seq = GENESIS_HASH, 0
    for i in range(n):
        e = link(
            prev,
            seq,
            f"2025-01-01T00:00:{i:02d}.000000+00:00",
            f"call-{i}",
            "escalated",
            {"i": i, "queue": "senior", "note": "投诉"},
        )
        entries.append(e)
        prev, seq = e.hash, e.seq
    return entries


def test_hash_is_sm3_of_prev_hash_and_canonical_bytes() -> None:
    e = build(1)[0]
    body = canonical(1, e.ts, "call-0", "escalated", {"i": 0, "queue": "senior", "note": "投诉"})
    assert e.hash == sm3(GENESIS_HASH + body)
    assert body.startswith(b'{"call_id":"call-0","kind":"escalated","payload":{"i":0,')
    assert "投诉".encode() in body  # UTF-8, not \\u escapes


def test_canonical_is_key_order_independent() -> None:
    a = canonical(1, "t", None, "k", {"b": 1, "a": {"y": 2, "x": [1, "z"]}})
    b = canonical(1, "t", None, "k", {"a": {"x": [1, "z"], "y": 2}, "b": 1})
    assert a == b


def test_inv12_intact_chain_verifies() -> None:
    entries = build(10)
    r = verify(entries)
    assert r.ok and r.checked == 10 and r.head_seq == 10 and r.head_hash == entries[-1].hash


def test_inv12_empty_chain_verifies() -> None:
    r = verify([])
    assert r.ok and r.head_seq == 0 and r.head_hash == GENESIS_HASH


def test_inv12_modified_payload_located() -> None:
    entries = build(10)
    bad = dict(entries[4].payload, queue="normal")
    entries[4] = dataclasses.replace(entries[4], payload=bad)
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == 5 and "hash" in (r.reason or "")
    assert r.checked == 4


def test_inv12_modified_then_rehashed_entry_breaks_the_next_link() -> None:
    entries = build(10)
    e = entries[4]
    payload = dict(e.payload, queue="normal")
    forged = dataclasses.replace(
        e, payload=payload, hash=entry_hash(e.prev_hash, e.seq, e.ts, e.call_id, e.kind, payload)
    )
    entries[4] = forged
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == 6


def test_inv12_deleted_entry_located() -> None:
    entries = build(10)
    del entries[6]
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == 7 and "missing" in (r.reason or "")


def test_inv12_swapped_entries_located() -> None:
    entries = build(10)
    entries[2], entries[3] = entries[3], entries[2]
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == 3


def test_inv12_swapped_with_renumbering_located() -> None:
    entries = build(10)
    a, b = entries[2], entries[3]
    entries[2] = dataclasses.replace(b, seq=3)
    entries[3] = dataclasses.replace(a, seq=4)
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == 3


def test_inv12_truncated_tail_detected_with_checkpoint() -> None:
    entries = build(10)
    cp = Checkpoint(seq=8, hash=entries[7].hash, ts="t")
    assert verify(entries, cp).ok
    r = verify(entries[:6], cp)
    assert not r.ok and r.first_bad_seq == 7 and "truncated" in (r.reason or "")
    # without the checkpoint the shortened chain looks valid: that is why checkpoints exist
    assert verify(entries[:6]).ok


def test_inv12_rewritten_history_detected_with_checkpoint() -> None:
    entries = build(10)
    cp = Checkpoint(seq=5, hash=entries[4].hash, ts="t")
    forged: list[Entry] = []
    prev, seq = GENESIS_HASH, 0
    for e in entries:
        payload: dict[str, Any] = dict(e.payload)
        if e.seq == 3:
            payload["queue"] = "normal"
        f = link(prev, seq, e.ts, e.call_id, e.kind, payload)
        forged.append(f)
        prev, seq = f.hash, f.seq
    assert verify(forged).ok
    r = verify(forged, cp)
    assert not r.ok and r.first_bad_seq == 5 and "checkpoint" in (r.reason or "")


def test_checkpoint_round_trip_and_malformed() -> None:
    cp = Checkpoint(seq=3, hash=bytes(range(32)), ts="t")
    assert Checkpoint.from_dict(cp.as_dict()) == cp
    with pytest.raises(IntegrityError):
        Checkpoint.from_dict({"seq": 1, "hash": "abcd"})
    with pytest.raises(IntegrityError):
        Checkpoint.from_dict({"hash": "00" * 32})


@pytest.mark.parametrize(
    "payload",
    [
        {"n": 1.5},
        {"n": float("nan")},
        {1: "x"},
        {"caller": "13812345678"},
        {"caller": "+8613812345678"},
        {"nested": {"list": ["+8613812345678"]}},
        {"obj": object()},
    ],
)
def test_inv11_payload_refused(payload: Any) -> None:
    with pytest.raises(LocalProtocolError):
        check_payload(payload)


def test_inv11_payload_allows_masked_and_blind_index() -> None:
    check_payload({"number": "138****5678", "bi": "ab" * 32, "date": "2025-01-01", "n": 7})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet=st.characters(codec="utf-8")),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=10,
)


@given(
    st.lists(st.dictionaries(st.text(max_size=6), json_values, max_size=4), min_size=1, max_size=8),
    st.data(),
)
def test_any_single_mutation_is_detected(
    payloads: list[dict[str, Any]], data: st.DataObject
) -> None:
    try:
        for p in payloads:
            check_payload(p)
    except LocalProtocolError:
        return
    entries: list[Entry] = []
    prev, seq = GENESIS_HASH, 0
    for p in payloads:
        e = link(prev, seq, "t", None, "k", p)
        entries.append(e)
        prev, seq = e.hash, e.seq
    assert verify(entries).ok
    i = data.draw(st.integers(0, len(entries) - 1))
    target = entries[i]
    mutated = dataclasses.replace(target, payload={**target.payload, "\x00tamper": 1})
    entries[i] = mutated
    r = verify(entries)
    assert not r.ok and r.first_bad_seq == target.seq
