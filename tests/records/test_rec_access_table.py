"""The recording vault and the console agree, role by role: the vault's own checks (search,
reveal, fetch, delete) come from the one permission table, so for every role the vault allows
exactly what the console's table grants, on a real vault over SQLite and PostgreSQL; the
vault's ``system`` actor (its own jobs) may delete and nothing else."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.permissions import TABLE, Permission, Role
from ivr.errors import NotAuthorizedError
from ivr.phone import customer_number
from records.access import SYSTEM, Actor, may
from records.vault import RecordingMeta, RecordingQuery, Vault

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
ACTORS = [role.value for role in Role] + [SYSTEM]


def ingest(vault: Vault, tmp_path: Path, call_id: str) -> str:
    src = tmp_path / "fs-recordings" / f"{call_id}.wav"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(b"RIFF" + os.urandom(2_000))
    number = customer_number("13812345678")
    assert number is not None
    meta = RecordingMeta(
        call_id=call_id,
        business_type="credit_card",
        direction="outbound",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=3),
        customer_number=number,
        campaign="spring",
        agent_id="AI-0001",
        flow_version="v3",
        consent_state="granted",
    )
    return vault.ingest_sync(src, meta).recording_id


def succeeds(action: Any) -> bool:
    try:
        action()
    except NotAuthorizedError:
        return False
    return True


def granted(role: str, *permissions: Permission) -> bool:
    """What the console's table says (the system actor holds no console role)."""
    return role != SYSTEM and any(p in TABLE[Role(role)] for p in permissions)


@pytest.mark.parametrize("role", ACTORS)
def test_the_vault_allows_exactly_what_the_console_table_grants(
    role: str, vault: Vault, tmp_path: Path, clock: Any
) -> None:
    actor = Actor(f"{role}-1", role)
    rid = ingest(vault, tmp_path, f"call-{role}")
    search = Permission.RECORDINGS_SEARCH
    assert succeeds(lambda: vault.search(actor, RecordingQuery())) == granted(role, search)
    assert succeeds(lambda: vault.get(actor, rid)) == granted(role, search)
    reveal = lambda: vault.search(actor, RecordingQuery(), reveal=True, reason="regulator 7")  # noqa: E731
    assert succeeds(reveal) == (granted(role, search) and granted(role, Permission.NUMBERS_UNMASK))
    fetch = lambda: vault.fetch(actor, rid, "complaint 12")  # noqa: E731
    either = (Permission.RECORDINGS_PLAY, Permission.RECORDINGS_EXPORT)
    assert succeeds(fetch) == granted(role, *either)

    clock.now = T0 + timedelta(days=731)  # past retention: only the role decides
    deleted = succeeds(lambda: vault.delete(actor, rid, "retention over"))
    assert deleted == (granted(role, Permission.RECORDINGS_DELETE) or role == SYSTEM)


def test_may_reads_the_one_table_for_people_and_a_short_list_for_the_system() -> None:
    for role, perms in TABLE.items():
        for permission in Permission:
            assert may(Actor("x", role.value), permission) == (permission in perms)
    system = {p for p in Permission if may(Actor("purge-job", SYSTEM), p)}
    assert system == {Permission.RECORDINGS_DELETE, Permission.CALLBACKS_WORK}
    assert not any(may(Actor("x", "nobody"), p) for p in Permission)
