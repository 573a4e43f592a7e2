"""inv10/inv11: the recording vault on real SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from ivr.crypto import sm3, sm4_gcm_encrypt
from ivr.errors import ConfigError, IntegrityError, NotAuthorizedError
from ivr.phone import CustomerNumber, customer_number
from records.keys import Keyring, WrappedKey, key_id_for
from records.tables import recordings
from records.vault import (
    Actor,
    RecordingMeta,
    RecordingNotFoundError,
    RecordingQuery,
    RetentionError,
    RetentionPolicy,
    Vault,
)

SUP = Actor("sup-7", "supervisor")
CO = Actor("co-1", "compliance_officer")
AUDITOR = Actor("aud-2", "auditor")
AGENT = Actor("agent-9", "agent")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
MARKER = b"PLAINTEXT-MARKER-0123456789"


def audio(tmp_path: Path, name: str, size: int = 50_000) -> Path:
    path = tmp_path / "fs-recordings" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"RIFF" + MARKER + os.urandom(size) + MARKER)
    return path


def num(raw: str) -> CustomerNumber:
    number = customer_number(raw)
    assert number is not None
    return number


def meta(call_id: str, **kw: Any) -> RecordingMeta:
    base: dict[str, Any] = {
        "call_id": call_id,
        "business_type": "credit_card",
        "direction": "outbound",
        "started_at": T0,
        "ended_at": T0 + timedelta(minutes=3),
        "customer_number": "13812345678",
        "campaign": "spring",
        "agent_id": "AI-0001",
        "flow_version": "v3",
        "consent_state": "granted",
    }
    base.update(kw)
    if isinstance(base["customer_number"], str):
        base["customer_number"] = num(base["customer_number"])
    return RecordingMeta(**base)


def ids(infos: list[Any]) -> set[str]:
    return {i.call_id for i in infos}


def test_inv10_ingest_seals_indexes_and_removes_plaintext(vault: Vault, tmp_path: Path) -> None:
    src = audio(tmp_path, "c1.wav")
    plain = src.read_bytes()
    info = vault.ingest_sync(src, meta("c1", qa_flags=["prohibited_phrase"]))
    assert not src.exists()
    assert info.customer == "138****5678" and info.duration_ms == 180_000
    assert info.qa_flags == ("prohibited_phrase",)
    assert info.retain_until == T0 + timedelta(minutes=3) + (
        datetime(2027, 3, 1, tzinfo=UTC) - datetime(2025, 3, 1, tzinfo=UTC)
    )
    blobs = list((tmp_path / "vault").rglob("*"))
    for blob in (b for b in blobs if b.is_file()):
        assert MARKER not in blob.read_bytes()
    got = vault.fetch(SUP, info.recording_id, "QA review of complaint 42")
    assert got.data == plain
    out = tmp_path / "out.wav"
    assert vault.fetch(AUDITOR, info.recording_id, "audit", dest=out).path == out
    assert out.read_bytes() == plain
    kinds = [e.kind for e in vault.evidence.entries()]
    assert kinds == ["recording_stored", "recording_accessed", "recording_accessed"]
    stored = next(vault.evidence.entries())
    assert stored.payload["sm3"] == sm3(plain).hex()
    assert vault.evidence.verify().ok


async def test_inv10_async_ingest_port(vault: Vault, tmp_path: Path) -> None:
    info = await vault.ingest(audio(tmp_path, "a.wav"), meta("a"))
    assert vault.get(SUP, info.recording_id).call_id == "a"


def test_inv11_no_clear_number_in_index_or_evidence(
    vault: Vault, engine: sa.Engine, tmp_path: Path
) -> None:
    vault.ingest_sync(audio(tmp_path, "c1.wav"), meta("c1", customer_number="+86 138-1234-5678"))
    with engine.connect() as conn:
        for table in ("recordings", "recording_flags", "recording_access", "evidence_log"):
            for row in conn.exec_driver_sql(f"SELECT * FROM {table}"):
                for value in row:
                    text = value.hex() if isinstance(value, bytes) else str(value)
                    assert "13812345678" not in text and "12345678" not in text


def test_inv10_search_by_each_dimension(vault: Vault, tmp_path: Path) -> None:
    vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1", qa_flags=["complaint", "escalated"]))
    vault.ingest_sync(
        audio(tmp_path, "2.wav"),
        meta(
            "c2",
            customer_number="13900001111",
            business_type="wealth",
            campaign="autumn",
            direction="inbound",
            agent_id="agent-3",
            started_at=T0 + timedelta(days=1),
            ended_at=T0 + timedelta(days=1, minutes=1),
            qa_flags=["complaint"],
        ),
    )
    vault.ingest_sync(
        audio(tmp_path, "3.wav"),
        meta("c3", started_at=T0 + timedelta(days=10), ended_at=T0 + timedelta(days=10, minutes=2)),
    )

    def q(**kw: Any) -> set[str]:
        if "customer_number" in kw:
            kw["customer_number"] = num(kw["customer_number"])
        return ids(vault.search(SUP, RecordingQuery(**kw)))

    assert q() == {"c1", "c2", "c3"}
    assert q(customer_number="138 1234 5678") == {"c1", "c3"}
    assert q(customer_number="+8613900001111") == {"c2"}
    assert q(customer_number="13700000000") == set()
    assert q(started_from=T0 + timedelta(hours=1), started_to=T0 + timedelta(days=5)) == {"c2"}
    assert q(started_from=T0 + timedelta(days=5)) == {"c3"}
    assert q(business_type="wealth") == {"c2"}
    assert q(campaign="spring") == {"c1", "c3"}
    assert q(flags=["complaint"]) == {"c1", "c2"}
    assert q(flags=["complaint", "escalated"]) == {"c1"}
    assert q(direction="inbound") == {"c2"}
    assert q(agent_id="agent-3") == {"c2"}
    assert q(call_id="c3") == {"c3"}
    assert q(business_type="credit_card", campaign="spring", flags=["complaint"]) == {"c1"}
    newest_first = [i.call_id for i in vault.search(SUP, RecordingQuery())]
    assert newest_first == ["c3", "c2", "c1"]
    assert [i.call_id for i in vault.search(SUP, RecordingQuery(limit=1, offset=1))] == ["c2"]
    raw: Any = "13812345678"  # a raw string where a CustomerNumber belongs
    with pytest.raises(ConfigError):
        vault.search(SUP, RecordingQuery(customer_number=raw))
    with pytest.raises(ConfigError):
        vault.ingest_sync(audio(tmp_path, "4.wav"), replace(meta("c4"), customer_number=raw))


def test_inv11_numbers_masked_and_revealed_only_to_allowed_roles(
    vault: Vault, tmp_path: Path
) -> None:
    info = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    assert vault.search(AUDITOR, RecordingQuery())[0].customer == "138****5678"
    with pytest.raises(NotAuthorizedError):
        vault.search(SUP, RecordingQuery(), reveal=True, reason="complaint 9")
    with pytest.raises(NotAuthorizedError):
        vault.search(CO, RecordingQuery(), reveal=True)  # no reason, no reveal
    with pytest.raises(NotAuthorizedError):
        vault.search(AGENT, RecordingQuery())
    shown = vault.search(CO, RecordingQuery(), reveal=True, reason="regulator request 3")
    assert shown[0].customer == "+8613812345678"
    audit = vault.access_log(info.recording_id)
    assert [(a["action"], a["actor_id"], a["reason"]) for a in audit] == [
        ("reveal", "co-1", "regulator request 3")
    ]
    reveals = [
        (e.payload["actor"], e.payload["role"], e.payload["reason"], e.payload["allowed"])
        for e in vault.evidence.entries()
        if e.kind == "recording_accessed" and e.payload["action"] == "reveal_numbers"
    ]
    assert reveals == [
        ("sup-7", "supervisor", "complaint 9", False),
        ("co-1", "compliance_officer", "", False),
        ("co-1", "compliance_officer", "regulator request 3", True),
    ]


def test_inv10_reveal_is_evidence_before_any_number_is_decrypted(
    vault: Vault, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    seen: list[list[str]] = []

    def unseal(*args: Any) -> Any:
        seen.append([e.kind for e in vault.evidence.entries()])
        return real(*args)

    real = vault.numbers.unseal
    monkeypatch.setattr(vault.numbers, "unseal", unseal)
    vault.search(CO, RecordingQuery(), reveal=True, reason="complaint 12")
    assert seen == [["recording_stored", "recording_accessed"]]


@pytest.mark.parametrize("caller_id", ["anonymous", "1000", "+86 abc", "", None])
def test_inv10_caller_without_a_number_is_sealed_and_found_by_call_time_and_flow(
    vault: Vault, tmp_path: Path, caller_id: str | None
) -> None:
    src = audio(tmp_path, "anon.wav")
    plain = src.read_bytes()
    number = customer_number(caller_id)
    assert number is None
    info = vault.ingest_sync(
        src,
        meta(
            "anon-1",
            customer_number=number,
            business_type="service",
            direction="inbound",
            flow_version="inbound_service@3f2a",
            campaign=None,
        ),
    )
    assert not src.exists()  # no clear WAV stays behind
    assert info.customer is None and info.customer_bi is None
    vault.ingest_sync(audio(tmp_path, "other.wav"), meta("c2", flow_version="outbound_x@1"))

    def q(**kw: Any) -> set[str]:
        return ids(vault.search(SUP, RecordingQuery(**kw)))

    assert q(call_id="anon-1") == {"anon-1"}
    assert q(business_type="service") == {"anon-1"}
    assert q(flow="inbound_service") == {"anon-1"}
    assert q(flow="inbound%service") == q(flow="inbound") == set()  # a flow name, not a pattern
    assert "anon-1" in q(started_from=T0, started_to=T0 + timedelta(minutes=1))
    assert q(customer_number=num("13812345678")) == {"c2"}
    shown = vault.search(CO, RecordingQuery(call_id="anon-1"), reveal=True, reason="complaint 5")
    assert shown[0].customer is None
    assert vault.fetch(SUP, info.recording_id, "complaint 5").data == plain
    stored = next(e for e in vault.evidence.entries() if e.call_id == "anon-1")
    assert stored.kind == "recording_stored"


def test_number_sealed_before_records_0002_still_reveals(
    vault: Vault, tmp_path: Path, engine: sa.Engine
) -> None:
    info = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    rid = info.recording_id
    with engine.begin() as conn:
        row = conn.execute(sa.select(recordings).where(recordings.c.recording_id == rid)).one()
        dek = vault.keyring.unwrap(WrappedKey(row.key_id, row.wrapped_key), rid.encode())
        legacy = sm4_gcm_encrypt(dek, b"+8613812345678", aad=b"number|" + rid.encode())
        conn.execute(
            recordings.update()
            .where(recordings.c.recording_id == rid)
            .values(customer_enc=legacy.to_bytes(), customer_key_id=None, customer_wrapped_key=None)
        )
    shown = vault.search(CO, RecordingQuery(), reveal=True, reason="old complaint")
    assert shown[0].customer == "+8613812345678"


def test_inv10_unauthorised_fetch_refused_and_audited(vault: Vault, tmp_path: Path) -> None:
    info = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    with pytest.raises(NotAuthorizedError):
        vault.fetch(AGENT, info.recording_id, "curious")
    with pytest.raises(NotAuthorizedError):
        vault.fetch(SUP, info.recording_id, "   ")
    vault.fetch(CO, info.recording_id, "regulator request 7")
    audit = vault.access_log(info.recording_id)
    assert [(a["actor_id"], a["role"], a["allowed"], a["reason"]) for a in audit] == [
        ("agent-9", "agent", False, "curious"),
        ("sup-7", "supervisor", False, "   "),
        ("co-1", "compliance_officer", True, "regulator request 7"),
    ]
    assert all(a["at"] for a in audit)
    accessed = [e.payload for e in vault.evidence.entries() if e.kind == "recording_accessed"]
    assert [(p["actor"], p["allowed"]) for p in accessed] == [
        ("agent-9", False),
        ("sup-7", False),
        ("co-1", True),
    ]
    assert vault.evidence.verify().ok


def test_fetch_unknown_and_tampered(vault: Vault, tmp_path: Path) -> None:
    with pytest.raises(RecordingNotFoundError):
        vault.fetch(SUP, "nope", "x")
    info = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    obj = next(p for p in (tmp_path / "vault" / "objects").rglob("*.sm4"))
    data = bytearray(obj.read_bytes())
    data[100] ^= 0x01
    obj.write_bytes(bytes(data))
    with pytest.raises(IntegrityError):
        vault.fetch(SUP, info.recording_id, "x")
    out = tmp_path / "out.wav"
    with pytest.raises(IntegrityError):
        vault.fetch(SUP, info.recording_id, "x", dest=out)
    assert not out.exists() and not list(tmp_path.glob("out.wav*"))


def test_inv10_retention_never_below_two_years() -> None:
    with pytest.raises(ConfigError):
        RetentionPolicy(1)
    with pytest.raises(ConfigError):
        RetentionPolicy(2, {"marketing": 1})
    assert RetentionPolicy(2, {"wealth": 5}).years_for("wealth") == 5


def test_inv10_delete_refused_before_retention_then_allowed(
    vault: Vault, tmp_path: Path, clock: Any
) -> None:
    info = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    clock.now = T0 + timedelta(days=729)
    with pytest.raises(RetentionError):
        vault.delete(CO, info.recording_id, "customer asked")
    with pytest.raises(NotAuthorizedError):
        vault.delete(SUP, info.recording_id, "tidy up")
    assert vault.get(SUP, info.recording_id)
    clock.now = T0 + timedelta(days=731)
    vault.delete(CO, info.recording_id, "retention over, erasure request")
    with pytest.raises(RecordingNotFoundError):
        vault.get(SUP, info.recording_id)
    assert not list((tmp_path / "vault" / "objects").rglob("*.sm4"))
    audit = vault.access_log(info.recording_id)
    assert [(a["action"], a["allowed"]) for a in audit] == [
        ("delete", False),
        ("delete", False),
        ("delete", True),
    ]


def test_inv10_purge_removes_only_expired_and_logs_without_customer_data(
    vault: Vault, tmp_path: Path, clock: Any, caplog: pytest.LogCaptureFixture
) -> None:
    old = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("old"))
    wealth = vault.ingest_sync(audio(tmp_path, "2.wav"), meta("wealth", business_type="wealth"))
    clock.now = T0 + timedelta(days=400)
    young = vault.ingest_sync(
        audio(tmp_path, "3.wav"),
        meta("young", started_at=clock.now, ended_at=clock.now + timedelta(minutes=1)),
    )
    clock.now = T0 + timedelta(days=2 * 365 + 30)
    with caplog.at_level(logging.INFO, logger="records"):
        report = vault.purge()
    assert [r["recording_id"] for r in report.removed] == [old.recording_id]
    assert ids(vault.search(SUP, RecordingQuery())) == {"wealth", "young"}
    assert wealth.retain_until.year == 2030 and young.recording_id
    text = caplog.text
    assert old.recording_id in text
    assert "13812345678" not in text and "5678" not in text
    purged = [e for e in vault.evidence.entries() if e.kind == "recording_purged"]
    assert len(purged) == 1 and purged[0].payload["recording_id"] == old.recording_id
    assert vault.purge().removed == ()


def test_key_rotation_rewraps_without_reencrypting(
    vault: Vault,
    tmp_path: Path,
    master_key: bytes,
    make_vault: Callable[..., Vault],
    engine: sa.Engine,
) -> None:
    src = audio(tmp_path, "1.wav")
    plain = src.read_bytes()
    info = vault.ingest_sync(src, meta("c1"))
    obj = next((tmp_path / "vault" / "objects").rglob("*.sm4"))
    before = obj.read_bytes()
    old_id = key_id_for(master_key)
    new_key = os.urandom(16)
    rotated = make_vault(Keyring({old_id: master_key, "2025-06": new_key}, "2025-06"))
    # old key still decrypts before the rewrap; new recordings use the new key
    assert rotated.fetch(SUP, info.recording_id, "r").data == plain
    info2 = rotated.ingest_sync(audio(tmp_path, "2.wav"), meta("c2"))
    assert info2.key_id == "2025-06"
    assert rotated.rewrap() == 1
    assert rotated.rewrap() == 0
    new_only = make_vault(Keyring({"2025-06": new_key}, "2025-06"))
    assert new_only.fetch(SUP, info.recording_id, "r").data == plain
    assert obj.read_bytes() == before  # recording itself not re-encrypted
    revealed = new_only.search(CO, RecordingQuery(call_id="c1"), reveal=True, reason="r")
    assert revealed[0].customer == "+8613812345678"  # the number's own key moved too
    # a ring missing the key a recording is wrapped under cannot open it
    stranger = make_vault(Keyring.single(os.urandom(16)))
    with pytest.raises(IntegrityError):
        stranger.fetch(SUP, info.recording_id, "r")


def test_keyring_from_file(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    k1, k2 = os.urandom(16), os.urandom(16)
    path.write_text(json.dumps({"current": "b", "keys": {"a": k1.hex(), "b": k2.hex()}}))
    ring = Keyring.from_file(path)
    assert ring.current_id == "b" and ring.key_ids == {"a", "b"}
    wrapped = ring.wrap(b"k" * 16, b"ctx")
    assert ring.unwrap(wrapped, b"ctx") == b"k" * 16
    with pytest.raises(IntegrityError):
        ring.unwrap(wrapped, b"other-ctx")
    path.write_text(json.dumps({"current": "c", "keys": {"a": k1.hex()}}))
    with pytest.raises(ConfigError):
        Keyring.from_file(path)


def test_inv10_removed_sources_are_forgotten_by_the_next_ingest_or_recover(
    vault: Vault, engine: sa.Engine, tmp_path: Path
) -> None:
    first = vault.ingest_sync(audio(tmp_path, "1.wav"), meta("c1"))
    second = vault.ingest_sync(audio(tmp_path, "2.wav"), meta("c2"))

    def sources() -> dict[str, str | None]:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(recordings.c.recording_id, recordings.c.source_path))
            return {rid: path for rid, path in rows}

    assert not (tmp_path / "fs-recordings" / "1.wav").exists()
    assert sources()[first.recording_id] is None  # cleared in the second ingest's first commit
    assert sources()[second.recording_id] is not None  # removed from disk, not yet forgotten
    assert vault.recover()["sources_removed"] == 0
    assert set(sources().values()) == {None}
