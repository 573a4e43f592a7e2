"""`ivr recordings search|fetch|purge|rewrap` and `ivr evidence verify|checkpoint`.

Search and fetch act for a person: they authenticate (``--token``/``IVR_TOKEN``, or the OS user
mapped to a console user) and consult the console's permission table, like the web console;
every fetch is audited with its ``--reason``, every reveal of clear numbers too.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import typer

from console.cli import TOKEN_OPTION, acting_principal
from console.permissions import Permission
from ivr.db import make_engine, migrate
from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.phone import customer_number
from ivr.settings import Settings, get_settings
from records.chain import Checkpoint
from records.evidence_store import SqlEvidenceLog
from records.vault import Actor, RecordingQuery, Vault
from records.worm import WormCheckpointStore, publish_checkpoint

recordings_app = typer.Typer(help="Encrypted call recordings: search, fetch (audited), purge.")
evidence_app = typer.Typer(help="The SM3 hash-chained evidence log: verify, checkpoint.")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    app.add_typer(recordings_app, name="recordings")
    app.add_typer(evidence_app, name="evidence")


def _engine(settings: Settings) -> sa.Engine:
    engine = make_engine(settings.sqlalchemy_url)
    try:
        if not sa.inspect(engine).has_table("evidence_log"):
            migrate(settings.sqlalchemy_url)
    except Exception as exc:
        raise fail(f"database unavailable: {type(exc).__name__}") from exc
    return engine


def _vault() -> Vault:
    settings = get_settings()
    return Vault.from_settings(settings, _engine(settings))


def _when(text: str | None, name: str) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"{name}: not an ISO date/time") from exc
    if value.tzinfo is None:
        raise fail(f"{name}: give a timezone, e.g. 2025-03-01T00:00+08:00")
    return value


@recordings_app.command("search")
def recordings_search(
    token: str | None = TOKEN_OPTION,
    customer: str | None = typer.Option(None, help="customer phone number (any format)"),
    start_from: str | None = typer.Option(None, "--from", help="started at or after (ISO)"),
    start_to: str | None = typer.Option(None, "--to", help="started before (ISO)"),
    business_type: str | None = typer.Option(None),
    campaign: str | None = typer.Option(None),
    flag: list[str] = typer.Option([], help="QA flag (repeat: all must match)"),
    direction: str | None = typer.Option(None, help="inbound or outbound"),
    agent: str | None = typer.Option(None, help="bot or agent id"),
    call_id: str | None = typer.Option(None),
    flow: str | None = typer.Option(None, help="flow name (any version)"),
    limit: int = typer.Option(100),
    offset: int = typer.Option(0),
    reveal: bool = typer.Option(False, help="show clear numbers (compliance officers; audited)"),
    reason: str = typer.Option("", help="why you need clear numbers (with --reveal; audited)"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Find recordings by customer, time range, business type, flow, campaign, call, flags."""
    number = customer_number(customer)
    if customer is not None and number is None:
        raise fail("--customer: not a valid phone number (calls without one: search by call id)")
    query = RecordingQuery(
        customer_number=number,
        started_from=_when(start_from, "--from"),
        started_to=_when(start_to, "--to"),
        business_type=business_type,
        campaign=campaign,
        flags=tuple(flag),
        direction=direction,
        agent_id=agent,
        call_id=call_id,
        flow=flow,
        limit=limit,
        offset=offset,
    )
    try:
        principal = acting_principal(Permission.RECORDINGS_SEARCH, token, "recordings")
        if reveal:
            acting_principal(Permission.NUMBERS_UNMASK, token, "recordings")
        actor = Actor(principal.username, principal.role.value)
        found = _vault().search(actor, query, reveal=reveal, reason=reason)
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit([i.as_dict() for i in found], as_json, _format_recordings)


def _format_recordings(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "no recordings found"
    lines = [
        f"{r['recording_id']}  {r['started_at'][:19]}  {r['duration_ms'] // 1000:>5}s  "
        f"{r['direction']:<8} {r['business_type']:<14} {r['customer'] or '-':<16} "
        f"call {r['call_id']}  flags {','.join(r['qa_flags']) or '-'}"
        for r in rows
    ]
    return "\n".join(lines) + f"\n{len(rows)} recording(s)"


@recordings_app.command("fetch")
def recordings_fetch(
    recording_id: str = typer.Argument(..., help="recording id (from search)"),
    token: str | None = TOKEN_OPTION,
    reason: str = typer.Option(..., help="why you need it (audited)"),
    out: Path = typer.Option(..., help="where to write the decrypted recording"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Decrypt one recording to a file (authorised roles only; every attempt is audited)."""
    try:
        principal = acting_principal(
            Permission.RECORDINGS_EXPORT, token, f"recordings/{recording_id}"
        )
        actor = Actor(principal.username, principal.role.value)
        result = _vault().fetch(actor, recording_id, reason, dest=out)
    except IvrError as exc:
        raise fail(str(exc)) from exc
    data = {"recording": result.info.as_dict(), "path": str(result.path)}
    emit(data, as_json, lambda d: f"wrote {d['path']} ({d['recording']['size_bytes']} bytes)")


@recordings_app.command("purge")
def recordings_purge(as_json: bool = JSON_OPTION) -> None:
    """Finish interrupted work, then remove recordings past their retention (only those)."""
    try:
        report = _vault().purge()
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit(report.as_dict(), as_json, lambda d: f"purged {len(d['removed'])} recording(s)")


@recordings_app.command("rewrap")
def recordings_rewrap(as_json: bool = JSON_OPTION) -> None:
    """After adding a new current master key: rewrap every data key under it."""
    try:
        moved = _vault().rewrap()
    except IvrError as exc:
        raise fail(str(exc)) from exc
    emit({"rewrapped": moved}, as_json, lambda d: f"rewrapped {d['rewrapped']} data key(s)")


@evidence_app.command("verify")
def evidence_verify(
    checkpoint: Path | None = typer.Option(
        None, help="a checkpoint file from `ivr evidence checkpoint` (detects truncation)"
    ),
    worm_all: bool = typer.Option(
        False, "--worm-all", help="hold the chain to every WORM checkpoint ever written"
    ),
    as_json: bool = JSON_OPTION,
) -> None:
    """Walk the whole chain; name the first bad entry. Exit 1 if the chain is broken.

    With ``IVR_EVIDENCE_WORM_BUCKET`` the chain is also held to the newest checkpoint in the
    write-once store (or to all of them with ``--worm-all``): a deleted tail with a rewritten
    head row, or a rewritten history, is found even though the database agrees with itself.
    """
    cp = None
    if checkpoint is not None:
        try:
            cp = Checkpoint.from_dict(json.loads(checkpoint.read_text(encoding="utf-8")))
        except (OSError, ValueError, IvrError) as exc:
            raise fail(f"cannot read checkpoint {checkpoint}") from exc
    settings = get_settings()
    try:
        worm = WormCheckpointStore.from_settings(settings)
        pinned: tuple[Checkpoint, ...] = ()
        if worm is not None:
            latest = worm.latest()
            pinned = tuple(worm.every()) if worm_all else (() if latest is None else (latest,))
        result = SqlEvidenceLog(_engine(settings)).verify(cp, also=pinned)
    except IvrError as exc:
        raise fail(str(exc)) from exc
    out = result.as_dict()
    if worm is not None:
        out["worm_checkpoints"] = len(pinned)
    emit(out, as_json, _format_verify)
    if not result.ok:
        raise typer.Exit(1)


def _format_verify(d: dict[str, Any]) -> str:
    if d["ok"]:
        return f"OK: {d['checked']} entries, head {d['head_seq']} {d['head_hash']}"
    return f"BROKEN at entry {d['first_bad_seq']}: {d['reason']} ({d['checked']} entries good)"


@evidence_app.command("checkpoint")
def evidence_checkpoint(
    out: Path | None = typer.Option(None, help="also write the checkpoint to this file"),
    as_json: bool = JSON_OPTION,
) -> None:
    """Verify the chain and export its head (sequence + hash); keep it outside the database.

    With ``IVR_EVIDENCE_WORM_BUCKET`` the head is also locked into the write-once store
    (verified against that store's newest checkpoint first).
    """
    settings = get_settings()
    try:
        log = SqlEvidenceLog(_engine(settings))
        worm = WormCheckpointStore.from_settings(settings)
        if worm is None:
            cp, written = log.checkpoint(), False
        else:
            worm.check()
            cp, written = publish_checkpoint(log, worm)
    except IvrError as exc:
        raise fail(str(exc)) from exc
    if out is not None:
        out.write_text(json.dumps(cp.as_dict()) + "\n", encoding="utf-8")
    shown = cp.as_dict() | {
        "worm": "unset" if worm is None else ("written" if written else "unchanged")
    }
    emit(
        shown,
        as_json,
        lambda d: f"checkpoint seq {d['seq']} hash {d['hash']} (WORM store: {d['worm']})",
    )
