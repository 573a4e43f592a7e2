"""The evidence hash chain: canonical encoding, linking and verification (pure, no IO).

Each entry carries a sequence number (1, 2, 3 ... without gaps), a UTC time, a call id, a kind
and a JSON payload. Its hash is ``SM3(prev_hash || canonical(entry))`` where ``prev_hash`` is
the previous entry's hash (32 zero bytes before the first entry). The canonical encoding is
UTF-8 JSON with sorted keys and no whitespace over ``{v, seq, ts, call_id, kind, payload}``;
payload values are restricted to JSON types without floats so every implementation encodes them
byte-for-byte alike.

:class:`ChainVerifier` walks entries in sequence order and names the first bad one: a changed
entry (hash mismatch), a deleted one (gap), a reordering (wrong previous hash), and, given a
:class:`Checkpoint` exported earlier, a truncated tail or rewritten history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ivr.crypto import sm3
from ivr.errors import IntegrityError, LocalProtocolError

ENCODING_VERSION = 1
HASH_BYTES = 32
GENESIS_HASH = bytes(HASH_BYTES)
MAX_PAYLOAD_DEPTH = 8

# A whole string value that looks like a clear phone number: 7-15 digits, optional leading +.
_PHONE_LIKE = re.compile(r"\+?\d{7,15}")


@dataclass(frozen=True, slots=True)
class Entry:
    """One evidence entry as stored: its body, the previous hash and its own hash."""

    seq: int
    ts: str
    call_id: str | None
    kind: str
    payload: Mapping[str, Any]
    prev_hash: bytes
    hash: bytes

    def as_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "ts": self.ts,
            "call_id": self.call_id,
            "kind": self.kind,
            "payload": dict(self.payload),
            "prev_hash": self.prev_hash.hex(),
            "hash": self.hash.hex(),
        }


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The chain head at some moment: keep it outside the database to detect truncation."""

    seq: int
    hash: bytes
    ts: str

    def as_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash.hex(), "ts": self.ts}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        try:
            seq = int(data["seq"])
            digest = bytes.fromhex(str(data["hash"]))
            ts = str(data.get("ts", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise IntegrityError("malformed checkpoint") from exc
        if seq < 0 or len(digest) != HASH_BYTES:
            raise IntegrityError("malformed checkpoint")
        return cls(seq=seq, hash=digest, ts=ts)


def check_payload(payload: Mapping[str, Any]) -> None:
    """Raise :class:`LocalProtocolError` unless ``payload`` is canonical-encodable and clean.

    Allowed: str keys; str, int, bool, None, lists and nested mappings (no floats: their text
    form is not canonical across languages). A string value that is a whole phone number is
    refused: evidence holds blind indexes and masked numbers, never clear ones (invariant 11).
    """
    _check_value(payload, 0)


def _check_value(value: Any, depth: int) -> None:
    if depth > MAX_PAYLOAD_DEPTH:
        raise LocalProtocolError("evidence payload nested too deeply")
    if value is None or isinstance(value, bool | int):
        return
    if isinstance(value, str):
        if _PHONE_LIKE.fullmatch(value.strip()):
            raise LocalProtocolError("evidence payload holds what looks like a clear phone number")
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise LocalProtocolError("evidence payload keys must be strings")
            _check_value(item, depth + 1)
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_value(item, depth + 1)
        return
    raise LocalProtocolError(f"evidence payload value of type {type(value).__name__} not allowed")


def canonical(
    seq: int, ts: str, call_id: str | None, kind: str, payload: Mapping[str, Any]
) -> bytes:
    """The canonical bytes of an entry body (what the hash covers besides ``prev_hash``)."""
    body = {
        "v": ENCODING_VERSION,
        "seq": seq,
        "ts": ts,
        "call_id": call_id,
        "kind": kind,
        "payload": payload,
    }
    return json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def canonical_payload(payload: Mapping[str, Any]) -> str:
    """The payload as canonical JSON text (how stores keep it)."""
    return json.dumps(
        payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(
    prev_hash: bytes, seq: int, ts: str, call_id: str | None, kind: str, payload: Mapping[str, Any]
) -> bytes:
    """``SM3(prev_hash || canonical(entry))``."""
    return sm3(prev_hash + canonical(seq, ts, call_id, kind, payload))


def link(
    prev_hash: bytes,
    prev_seq: int,
    ts: str,
    call_id: str | None,
    kind: str,
    payload: Mapping[str, Any],
) -> Entry:
    """The entry that follows ``(prev_seq, prev_hash)``: sequence ``prev_seq + 1``."""
    if len(prev_hash) != HASH_BYTES:
        raise LocalProtocolError("previous hash must be 32 bytes")
    check_payload(payload)
    seq = prev_seq + 1
    digest = entry_hash(prev_hash, seq, ts, call_id, kind, payload)
    return Entry(seq, ts, call_id, kind, payload, prev_hash, digest)


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of a walk: ``ok``, or the first bad sequence number and why."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: bytes
    first_bad_seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "checked": self.checked,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash.hex(),
            "first_bad_seq": self.first_bad_seq,
            "reason": self.reason,
        }


@dataclass(slots=True)
class ChainVerifier:
    """Incremental verifier: :meth:`feed` entries in ascending ``seq`` order, then :meth:`result`.

    Feeding stops checking after the first bad entry (later ones cannot be trusted).
    """

    checkpoint: Checkpoint | None = None
    also: tuple[Checkpoint, ...] = ()
    """More checkpoints to hold the chain to (e.g. every WORM checkpoint); all must match."""
    _expected_seq: int = 1
    _prev_hash: bytes = GENESIS_HASH
    _checked: int = 0
    _bad_seq: int | None = None
    _reason: str | None = None
    _pins_by_seq: dict[int, frozenset[bytes]] | None = None

    @property
    def failed(self) -> bool:
        return self._bad_seq is not None

    def feed(self, entry: Entry) -> None:
        if self._bad_seq is not None:
            return
        if entry.seq != self._expected_seq:
            if entry.seq > self._expected_seq:
                self._fail(self._expected_seq, f"entry {self._expected_seq} missing (gap)")
            else:
                self._fail(entry.seq, f"entry {entry.seq} out of order or duplicated")
            return
        if entry.prev_hash != self._prev_hash:
            self._fail(entry.seq, "previous hash does not match the preceding entry")
            return
        expected = entry_hash(
            entry.prev_hash, entry.seq, entry.ts, entry.call_id, entry.kind, entry.payload
        )
        if expected != entry.hash:
            self._fail(entry.seq, "entry content does not match its hash")
            return
        pinned = self._pin_map().get(entry.seq)
        if pinned is not None and pinned != {entry.hash}:
            self._fail(entry.seq, "chain differs from the checkpoint (history rewritten)")
            return
        self._checked += 1
        self._prev_hash = entry.hash
        self._expected_seq += 1

    def feed_all(self, entries: Iterable[Entry]) -> None:
        for entry in entries:
            self.feed(entry)
            if self._bad_seq is not None:
                return

    def result(self) -> VerifyResult:
        head_seq = self._expected_seq - 1
        for cp in sorted(self._pins(), key=lambda c: -c.seq):
            if self._bad_seq is not None:
                break
            if cp.seq == 0 and cp.hash != GENESIS_HASH:
                self._fail(0, "checkpoint at sequence 0 must carry the genesis hash")
            elif cp.seq > head_seq:
                self._fail(
                    head_seq + 1,
                    f"chain ends at {head_seq} but the checkpoint is at {cp.seq} (truncated)",
                )
        return VerifyResult(
            ok=self._bad_seq is None,
            checked=self._checked,
            head_seq=head_seq,
            head_hash=self._prev_hash,
            first_bad_seq=self._bad_seq,
            reason=self._reason,
        )

    def _pins(self) -> tuple[Checkpoint, ...]:
        return self.also if self.checkpoint is None else (self.checkpoint, *self.also)

    def _pin_map(self) -> dict[int, frozenset[bytes]]:
        if self._pins_by_seq is None:
            by_seq: dict[int, set[bytes]] = {}
            for cp in self._pins():
                by_seq.setdefault(cp.seq, set()).add(cp.hash)
            self._pins_by_seq = {seq: frozenset(h) for seq, h in by_seq.items()}
        return self._pins_by_seq

    def _fail(self, seq: int, reason: str) -> None:
        self._bad_seq = seq
        self._reason = reason


def verify(
    entries: Iterable[Entry],
    checkpoint: Checkpoint | None = None,
    also: tuple[Checkpoint, ...] = (),
) -> VerifyResult:
    """Walk ``entries`` (ascending ``seq``) from genesis; see :class:`ChainVerifier`."""
    verifier = ChainVerifier(checkpoint=checkpoint, also=also)
    verifier.feed_all(entries)
    return verifier.result()
