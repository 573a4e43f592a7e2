"""`ivr` commands of the compliance package (registered by :mod:`shell.cli`).

``ivr gate check`` (dry run, never counts), ``ivr dnc add|check|remove``,
``ivr consent grant|list|revoke``, ``ivr rules validate|show|reload``. Every command takes
``--json``. Numbers are shown masked; the ledger holds blind indexes only. The commands that
change something for a person (``dnc add|remove``, ``consent grant|revoke``, ``rules reload``)
authenticate (``--token``/``IVR_TOKEN`` or the OS user mapped to a console user) and consult
the console's permission table; the actor they record is that user, never a typed name.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import typer

from compliance.decision import GateRequest
from compliance.factory import build_service
from compliance.numbers import mask_e164, parse_number
from compliance.reload import load_rules_file
from compliance.rules import RulesError, RuleSet
from compliance.service import ComplianceService, InvalidRequestError
from console.cli import TOKEN_OPTION, acting_principal
from console.permissions import Permission
from ivr.db import make_engine
from ivr.errors import IvrError
from ivr.output import JSON_OPTION, emit, fail
from ivr.phone import CustomerNumber, customer_number
from ivr.settings import get_settings
from records.evidence_store import SqlEvidenceLog

T = TypeVar("T")

gate_app = typer.Typer(help="The dial-time compliance gate.", no_args_is_help=True)
dnc_app = typer.Typer(help="The permanent do-not-call list.", no_args_is_help=True)
consent_app = typer.Typer(help="The consent ledger.", no_args_is_help=True)
rules_app = typer.Typer(help="Versioned compliance rules.", no_args_is_help=True)
_PATH_ARG = typer.Argument(None, help="rules file (default: IVR_RULES_PATH)")


def register(app: typer.Typer) -> None:
    """Add this package's commands to the `ivr` app."""
    app.add_typer(gate_app, name="gate")
    app.add_typer(dnc_app, name="dnc")
    app.add_typer(consent_app, name="consent")
    app.add_typer(rules_app, name="rules")


def _run(body: Callable[[ComplianceService], Awaitable[T]]) -> T:
    async def main() -> T:
        # The composition root of a command: the real chained evidence log, so a DNC or
        # consent change made here is SM3-chained evidence like one made in a call (inv3).
        settings = get_settings()
        engine = make_engine(settings.sqlalchemy_url)
        svc = build_service(settings, engine=engine, evidence=SqlEvidenceLog(engine), spool=None)
        await svc.start(watch=False)
        try:
            return await body(svc)
        finally:
            await svc.close()
            engine.dispose()

    try:
        return asyncio.run(main())
    except RulesError as exc:
        raise fail("rules invalid:\n" + "\n".join(str(i) for i in exc.issues)) from exc
    except InvalidRequestError as exc:
        raise fail(str(exc), 2) from exc
    except IvrError as exc:
        raise fail(f"{type(exc).__name__}: {exc}") from exc


def _masked(number: str) -> str:
    num = parse_number(number)
    return mask_e164(num.e164) if num else "(invalid)"


def _customer(number: str) -> CustomerNumber:
    """The officer typed a number: it must be a valid one (exit 2 with a clear message)."""
    customer = customer_number(number)
    if customer is None:
        raise fail("invalid phone number (give it as 13812345678 or +8613812345678)", 2)
    return customer


def _when(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        when = datetime.fromisoformat(text)
    except ValueError as exc:
        raise fail(f"--at must be ISO 8601, got {text!r}", 2) from exc
    if when.tzinfo is None:
        raise fail("--at needs a UTC offset, e.g. 2025-06-01T21:59:59+08:00", 2)
    return when


# --- gate ------------------------------------------------------------------------------------
@gate_app.command("check")
def gate_check(
    number: str,
    purpose: str = typer.Option(..., "--purpose", help="marketing, service, ..."),
    at: str | None = typer.Option(None, "--at", help="ISO 8601 instant (default now)"),
    campaign: str | None = typer.Option(None, "--campaign"),
    profile_tz: str | None = typer.Option(None, "--tz", help="customer profile time zone"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Decide as the gate would (a dry run: nothing is counted)."""
    when = _when(at)
    acting_principal(Permission.GATE_CHECK, token, "gate")
    req = GateRequest(number, purpose, f"dry-{uuid.uuid4().hex}", campaign, profile_tz)
    d = _run(lambda svc: svc.dry_run(req, when)).as_dict()

    def human(x: dict[str, Any]) -> str:
        verdict = "ALLOWED" if x["allowed"] else "DENIED: " + ", ".join(x["reasons"])
        lines = [f"{x['number'] or _masked(number)} {purpose}: {verdict}"]
        lines.append(f"rules {x['rules_version']}, zone {x['zone']}, local day {x['local_date']}")
        if x["count_today"] is not None:
            lines.append(f"calls today {x['count_today']}/{x['daily_cap']}")
        if x["retry_after"]:
            lines.append(f"retry after {x['retry_after']}")
        if x["consent_mode"] == "in_call":
            lines.append("consent must be asked at the start of the call")
        return "\n".join(lines)

    emit(d, as_json, human)
    if not d["allowed"]:
        raise typer.Exit(3)


# --- DNC -------------------------------------------------------------------------------------
@dnc_app.command("add")
def dnc_add(
    number: str,
    reason: str = typer.Option(..., "--reason"),
    source: str = typer.Option("operator", "--source", help="refusal, complaint, operator..."),
    call_id: str | None = typer.Option(None, "--call-id"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Add a number to the permanent DNC list (durable before this returns)."""
    customer = _customer(number)
    actor = acting_principal(Permission.DNC_ADD, token, "dnc").username
    entry = _run(
        lambda svc: svc.add_dnc(
            customer, source=source, reason=reason, actor=actor, call_id=call_id
        )
    )
    data = {
        "number": customer.masked,
        "number_index": entry.number_index,
        "source": entry.source,
        "since": entry.created_at.isoformat(),
    }
    emit(data, as_json, lambda d: f"{d['number']} is on the DNC list since {d['since']}")


@dnc_app.command("check")
def dnc_check(number: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Is the number on the DNC list?"""
    customer = _customer(number)
    acting_principal(Permission.DNC_CHECK, token, "dnc")
    entry = _run(lambda svc: svc.dnc_entry(customer))
    data: dict[str, Any] = {"number": customer.masked, "dnc": entry is not None}
    if entry is not None:
        data |= {
            "source": entry.source,
            "reason": entry.reason,
            "actor": entry.actor,
            "call_id": entry.call_id,
            "since": entry.created_at.isoformat(),
        }
    emit(
        data,
        as_json,
        lambda d: (
            f"{d['number']}: on DNC since {d['since']} ({d['source']}: {d['reason']})"
            if d["dnc"]
            else f"{d['number']}: not on DNC"
        ),
    )


@dnc_app.command("remove")
def dnc_remove(
    number: str,
    reason: str = typer.Option(..., "--reason", help="written reason, kept as evidence"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Remove a DNC entry (compliance officers only; the removal is recorded)."""
    customer = _customer(number)
    principal = acting_principal(Permission.DNC_REMOVE, token, "dnc")
    actor, role = principal.username, principal.role.value
    removed = _run(
        lambda svc: svc.remove_dnc(customer, actor=actor, actor_role=role, reason=reason)
    )
    emit(
        {"number": customer.masked, "removed": removed},
        as_json,
        lambda d: f"{d['number']}: {'removed' if d['removed'] else 'was not on DNC'}",
    )


# --- consent ---------------------------------------------------------------------------------
@consent_app.command("grant")
def consent_grant(
    number: str,
    purpose: str = typer.Option(..., "--purpose"),
    scope: str = typer.Option(..., "--scope"),
    channel: str = typer.Option(..., "--channel", help="call, app, branch, web..."),
    call_id: str | None = typer.Option(None, "--call-id"),
    offset_ms: int | None = typer.Option(None, "--offset-ms", help="recording offset"),
    excerpt: str | None = typer.Option(None, "--excerpt", help="transcript excerpt"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record an explicit consent with its evidence."""
    customer = _customer(number)
    acting_principal(Permission.CONSENT_GRANT, token, "consents")
    rec = _run(
        lambda svc: svc.grant_consent(
            customer,
            purpose=purpose,
            scope=scope,
            channel=channel,
            call_id=call_id,
            recording_offset_ms=offset_ms,
            transcript_excerpt=excerpt,
        )
    )
    emit(rec.as_dict(), as_json, lambda d: f"consent {d['id']} valid until {d['expires_at']}")


@consent_app.command("list")
def consent_list(
    number: str, token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION
) -> None:
    """Every consent on file for the number (revoked and expired included)."""
    customer = _customer(number)
    acting_principal(Permission.CONSENT_READ, token, "consents")
    recs = [r.as_dict() for r in _run(lambda svc: svc.list_consents(customer))]

    def human(rows: list[dict[str, Any]]) -> str:
        if not rows:
            return f"{customer.masked}: no consent on file"
        return "\n".join(
            f"{r['purpose']:<12} {r['channel']:<8} {r['granted_at']} -> {r['expires_at']}"
            f"{' REVOKED ' + r['revoked_at'] if r['revoked_at'] else ''}  scope: {r['scope']}"
            for r in rows
        )

    emit(recs, as_json, human)


@consent_app.command("revoke")
def consent_revoke(
    number: str,
    purpose: str = typer.Option(..., "--purpose"),
    channel: str = typer.Option(..., "--channel"),
    reason: str = typer.Option(..., "--reason"),
    token: str | None = TOKEN_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke every live consent of the number for a purpose (on the customer's word)."""
    customer = _customer(number)
    actor = acting_principal(Permission.CONSENT_REVOKE, token, "consents").username
    n = _run(
        lambda svc: svc.revoke_consent(
            customer, purpose, actor=actor, channel=channel, reason=reason
        )
    )
    emit({"revoked": n}, as_json, lambda d: f"{d['revoked']} consent(s) revoked")


# --- rules -----------------------------------------------------------------------------------
def _rules_dict(rules: RuleSet, source: str, digest: str) -> dict[str, Any]:
    return {"source": source, "sha256": digest} | rules.model_dump(mode="json")


def _load(path: Path | None) -> tuple[Path, Any]:
    target = path or get_settings().rules_path
    try:
        return target, load_rules_file(target)
    except RulesError as exc:
        issues = "\n".join(str(i) for i in exc.issues)
        raise fail(f"rules rejected ({len(exc.issues)} issue(s)):\n{issues}") from exc


@rules_app.command("validate")
def rules_validate(
    path: Path | None = _PATH_ARG,
    as_json: bool = JSON_OPTION,
) -> None:
    """Validate a rules file; errors give file, line, field and why."""
    target, loaded = _load(path)
    emit(
        {"valid": True, "source": str(target), "version": loaded.rules.version},
        as_json,
        lambda d: f"{d['source']}: valid, version {d['version']}",
    )


@rules_app.command("show")
def rules_show(
    path: Path | None = _PATH_ARG,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the rules in force (as loaded and validated)."""
    target, loaded = _load(path)
    data = _rules_dict(loaded.rules, str(target), loaded.digest)

    def human(d: dict[str, Any]) -> str:
        lines = [f"rules {d['version']} effective {d['effective_from']} ({d['source']})"]
        for name, p in d["purposes"].items():
            w = p["window"]
            window = f"{w['start'][:5]}-{(w['end'] or '24:00')[:5]}" if w else "any time"
            lines.append(
                f"  {name:<12} window {window:<12} cap {p['daily_cap']}/day  consent "
                f"{p['consent']}"
                + (f" ({p['consent_valid_days']} d)" if p["consent_valid_days"] else "")
            )
        for o in d["overrides"]:
            lines.append(f"  override {o['name']}: {o['purposes']} {o['match']}")
        cp = d["consent_policy"]
        floor = cp["min_confidence"]
        dtmf = cp["questions"]["consent_question"]["dtmf"]
        lines.append(
            f"  consent policy: consent at >= {floor['consent']}, refusal at >= "
            f"{floor['refusal']} (confirmed from {floor['refusal_confirm']}), DTMF at the consent "
            f"question {dtmf}"
        )
        return "\n".join(lines)

    emit(data, as_json, human)


@rules_app.command("reload")
def rules_reload(token: str | None = TOKEN_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Validate the rules file, then signal running processes to pick it up (they poll it)."""
    acting_principal(Permission.RULES_RELOAD, token, "rules")
    target, loaded = _load(None)
    os.utime(target)  # running watchers reload on a changed mtime; they validate again
    emit(
        {"reloaded": True, "source": str(target), "version": loaded.rules.version},
        as_json,
        lambda d: f"{d['source']}: version {d['version']} valid; running processes reload it",
    )
