"""The console's composition root: every dependency built explicitly from settings.

``build_context`` migrates the database and wires the evidence log (required), the audit,
sign-in, the document store of the designer, the capability services (compliance, the
vault, QA: ``qa_inspector`` replaces the ASR-backed recording inspector of batch jobs) and the
human floor (:func:`agents.service.build_floor_runtime`) and the campaigns
(:class:`campaigns.service.CampaignDesk`); ``console.app`` turns a context
into the FastAPI app. Tests build a context over their own database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from argon2 import PasswordHasher
from sqlalchemy import Engine

from agents.service import FloorRuntime, build_floor_runtime
from campaigns.importer import ListImporter
from campaigns.service import CampaignDesk
from compliance.factory import build_service
from compliance.reload import load_rules_file
from compliance.service import ComplianceService
from compliance.tables import decisions
from console.audit import Audit
from console.auth.service import AuthService, build_auth_service, utc_now
from console.designer.documents import DocumentStore
from console.designer.publisher import Publisher
from console.designer.rules_docs import rules_kind
from console.designer.service import DesignerService
from console.designer.simulate import SimulationAudio
from console.qa import ConsoleQa, InspectorFactory
from flows.registry import FlowRegistry
from ivr.db import engine_for, migrate
from ivr.settings import Settings
from qa.service import build_qa
from records.evidence_store import SqlEvidenceLog
from records.sealed_number import NumberSealer
from records.vault import Vault


@dataclass(frozen=True, slots=True)
class ConsoleContext:
    settings: Settings
    engine: Engine
    evidence: SqlEvidenceLog
    audit: Audit
    auth: AuthService
    designer: DesignerService
    simulations: SimulationAudio
    vault: Vault
    compliance: ComplianceService
    qa: ConsoleQa
    floor: FloorRuntime
    campaigns: CampaignDesk

    def gate_denials(self, since: datetime) -> dict[str, int]:
        """Gate denials by reason since ``since`` (the compliance decision log; dry runs not
        counted)."""
        found: Counter[str] = Counter()
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(decisions.c.reasons, sa.func.count())
                .where(
                    decisions.c.allowed.is_(False),
                    decisions.c.dry_run.is_(False),
                    decisions.c.decided_at >= since,
                )
                .group_by(decisions.c.reasons)
            ).all()
        for reasons, count in rows:
            for reason in str(reasons).split(","):
                if reason:
                    found[reason] += int(count)
        return dict(found)


def build_context(
    settings: Settings,
    *,
    hasher: PasswordHasher | None = None,
    clock: Callable[[], datetime] = utc_now,
    migrate_db: bool = True,
    qa_inspector: InspectorFactory | None = None,
) -> ConsoleContext:
    if migrate_db:
        migrate(settings.sqlalchemy_url)
    engine = engine_for(settings)
    evidence = SqlEvidenceLog(engine)
    audit = Audit(evidence)
    auth = build_auth_service(settings, engine=engine, audit=audit, hasher=hasher, clock=clock)
    store = DocumentStore(engine)
    designer = DesignerService(store, Publisher(settings, store, clock), audit, clock)
    rules_name = settings.rules_path.stem

    def published_rules() -> str | None:
        latest = store.latest("rules", rules_name)
        return latest.content if latest else None

    designer.extra_kinds["rules"] = rules_kind(published_rules)
    vault = Vault.from_settings(settings, engine)
    compliance = build_service(
        settings, engine=engine, evidence=evidence, spool=None, clock=clock, migrate_db=False
    )  # no outage spool: an officer's or agent's change that fails is shown to them
    qa = ConsoleQa(settings, build_qa(settings, evidence, engine), vault, qa_inspector)
    floor = build_floor_runtime(
        settings,
        engine=engine,
        numbers=vault.numbers,
        evidence=evidence,
        compliance=compliance,
        clock=clock,
    )
    return ConsoleContext(
        settings,
        engine,
        evidence,
        audit,
        auth,
        designer,
        SimulationAudio(),
        vault,
        compliance,
        qa,
        floor,
        build_campaign_desk(settings, engine),
    )


def build_campaign_desk(settings: Settings, engine: Engine) -> CampaignDesk:
    """Campaign use cases on the console's engine: flows and rules read from their files."""
    return CampaignDesk(
        engine,
        ListImporter(engine, NumberSealer.from_settings(settings)),
        lambda: FlowRegistry(settings.flows_dir),
        lambda: load_rules_file(settings.rules_path).rules,
        ZoneInfo(settings.institution_timezone),
    )
