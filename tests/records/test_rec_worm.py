"""Evidence beyond one database (inv12): chain checkpoints locked into an S3 bucket with object
lock (COMPLIANCE retention) on a real S3 API (moto's server on loopback), and `ivr evidence
verify` finding a deleted tail with a rewritten head row, and a rewritten history, that the
database alone cannot show."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import sqlalchemy as sa
import typer
from botocore.exceptions import ClientError
from typer.testing import CliRunner

from ivr.errors import ConfigError, IntegrityError
from ivr.evidence import EvidenceKind
from ivr.settings import get_settings
from records import cli
from records.chain import Checkpoint, link
from records.evidence_store import SqlEvidenceLog
from records.s3_client import make_client
from records.worm import WormCheckpointStore, checkpoint_key, publish_checkpoint

if TYPE_CHECKING:
    from mypy_boto3_s3.client import S3Client


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> S3Client:
    return make_client(
        endpoint=s3_endpoint, region="us-east-1", access_key_id="worm", secret_access_key="worm"
    )


@pytest.fixture
def worm_bucket(s3: S3Client) -> str:
    bucket = f"worm-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    return bucket


def fill(log: SqlEvidenceLog, n: int) -> None:
    for i in range(n):
        log.append_entry(EvidenceKind.CALL_ENDED, call_id=f"c{i}", payload={"i": i})


def test_checkpoints_are_locked_and_the_newest_is_read_back(
    s3: S3Client, worm_bucket: str, unguarded: sa.Engine
) -> None:
    store = WormCheckpointStore(s3, worm_bucket, retention_days=1)
    store.check()
    assert store.latest() is None
    log = SqlEvidenceLog(unguarded)
    fill(log, 3)
    first, written = publish_checkpoint(log, store)
    assert written and first.seq == 3
    assert publish_checkpoint(log, store) == (first, False)  # head unchanged: nothing new
    fill(log, 2)
    second, written = publish_checkpoint(log, store)
    assert written and second.seq == 5 and store.latest() == second
    assert [cp.seq for cp in store.every()] == [5, 3]
    # COMPLIANCE retention: the checkpoint's version cannot be deleted, by anyone
    key = checkpoint_key(store.prefix, 5)
    version = s3.list_object_versions(Bucket=worm_bucket, Prefix=key)["Versions"][0]
    with pytest.raises(ClientError) as refused:
        s3.delete_object(Bucket=worm_bucket, Key=key, VersionId=version["VersionId"])
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    assert store.latest() == second


def test_every_version_is_read_across_listing_pages(
    s3: S3Client, worm_bucket: str, unguarded: sa.Engine
) -> None:
    store = WormCheckpointStore(s3, worm_bucket, retention_days=1, page_size=2)
    log = SqlEvidenceLog(unguarded)
    for _ in range(4):
        fill(log, 1)
        publish_checkpoint(log, store)
    newest = store.latest()
    assert newest is not None and newest.seq == 4
    assert [cp.seq for cp in store.every()] == [4, 3, 2, 1]
    for _ in range(3):  # versions of the newest key beyond the first page still count
        store.put(newest)
    store.put(Checkpoint(seq=4, hash=bytes(32), ts=newest.ts))
    with pytest.raises(IntegrityError):
        store.latest()


def test_a_bucket_without_object_lock_is_refused(s3: S3Client) -> None:
    bucket = f"plain-{secrets.token_hex(6)}"
    s3.create_bucket(Bucket=bucket)
    with pytest.raises(ConfigError):
        WormCheckpointStore(s3, bucket).check()


def test_a_forged_version_beside_the_genuine_one_is_an_integrity_error(
    s3: S3Client, worm_bucket: str, unguarded: sa.Engine
) -> None:
    store = WormCheckpointStore(s3, worm_bucket, retention_days=1)
    log = SqlEvidenceLog(unguarded)
    fill(log, 2)
    genuine, _ = publish_checkpoint(log, store)
    store.put(Checkpoint(seq=genuine.seq, hash=bytes(32), ts=genuine.ts))  # a new version
    with pytest.raises(IntegrityError):
        store.latest()


@pytest.fixture
def app(
    db_url: str, tmp_path: Path, s3_endpoint: str, worm_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[typer.Typer]:
    monkeypatch.setenv("IVR_DATABASE_URL", db_url)
    monkeypatch.setenv("IVR_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("IVR_EVIDENCE_WORM_BUCKET", worm_bucket)
    monkeypatch.setenv("IVR_EVIDENCE_WORM_ENDPOINT", s3_endpoint)
    monkeypatch.setenv("IVR_EVIDENCE_WORM_ACCESS_KEY_ID", "worm")
    monkeypatch.setenv("IVR_EVIDENCE_WORM_SECRET_ACCESS_KEY", "worm")
    get_settings.cache_clear()
    application = typer.Typer()
    cli.register(application)
    yield application
    get_settings.cache_clear()


def run(app: typer.Typer, *args: str) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(app, [*args, "--json"])
    assert result.stdout.strip(), f"no output: {result.output} {result.exception!r}"
    return result.exit_code, json.loads(result.stdout)


def test_cli_tail_deleted_and_head_row_rewritten_is_found_through_the_worm_store(
    app: typer.Typer, unguarded: sa.Engine
) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 6)
    code, cp = run(app, "evidence", "checkpoint")
    assert code == 0 and cp["seq"] == 6 and cp["worm"] == "written"
    fill(log, 2)
    assert run(app, "evidence", "verify")[0] == 0
    # the database's owner deletes the tail past 4 and moves the head row back to match
    with unguarded.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq > 4")
        row = conn.exec_driver_sql("SELECT hash FROM evidence_log WHERE seq = 4").one()
        conn.execute(sa.text("UPDATE evidence_head SET seq = 4, hash = :h"), {"h": row[0]})
    assert log.verify().ok  # the database agrees with itself ...
    code, out = run(app, "evidence", "verify")
    assert code == 1 and out["first_bad_seq"] == 5 and "truncated" in str(out["reason"])
    assert out["worm_checkpoints"] == 1
    refused = CliRunner().invoke(app, ["evidence", "checkpoint"])  # never re-anchored
    assert refused.exit_code != 0 and "truncated" in refused.output


def test_cli_history_rewritten_past_the_checkpoint_is_found(
    app: typer.Typer, unguarded: sa.Engine
) -> None:
    log = SqlEvidenceLog(unguarded)
    fill(log, 4)
    assert run(app, "evidence", "checkpoint")[0] == 0
    # rewrite entries 3.. as a consistent chain with other content, head row included
    with unguarded.begin() as conn:
        conn.exec_driver_sql("DELETE FROM evidence_log WHERE seq > 2")
        prev = conn.exec_driver_sql("SELECT hash FROM evidence_log WHERE seq = 2").one()[0]
    forged_log = SqlEvidenceLog(unguarded)
    entry = None
    for i in (3, 4, 5):
        entry = link(
            bytes.fromhex(prev),
            i - 1,
            "2025-01-01T00:00:00.000000+00:00",
            None,
            "call_ended",
            {"forged": i},
        )
        with unguarded.begin() as conn:
            conn.exec_driver_sql(
                "INSERT INTO evidence_log (seq, ts, call_id, kind, payload, prev_hash, hash) "
                f"VALUES ({entry.seq}, '{entry.ts}', NULL, 'call_ended', "
                f"'{{\"forged\":{i}}}', '{entry.prev_hash.hex()}', '{entry.hash.hex()}')"
            )
        prev = entry.hash.hex()
    assert entry is not None
    with unguarded.begin() as conn:
        conn.execute(sa.text("UPDATE evidence_head SET seq = 5, hash = :h"), {"h": prev})
    assert forged_log.verify().ok  # consistent on its own
    code, out = run(app, "evidence", "verify")
    assert code == 1 and out["first_bad_seq"] == 4 and "rewritten" in str(out["reason"])
    code, out = run(app, "evidence", "verify", "--worm-all")
    assert code == 1 and out["first_bad_seq"] == 4
