"""The compliance service's factory: every part from settings, for composition roots.

``build_service(settings, engine=engine, evidence=SqlEvidenceLog(engine), spool=None)``: the SQL
ledger on ``engine`` (its decision log on :func:`compliance.sql.decision_log_engine`), the Redis
gate store when ``IVR_REDIS_URL`` is set (else the SQL one), the rules from ``IVR_RULES_PATH``
and their supervised watcher publishing to this host's status board. The evidence log, the
engine and the outage spool are the caller's: nothing is defaulted behind its back.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import sqlalchemy as sa

from compliance.decision_rows import decision_log_engine
from compliance.guard import SqlPool
from compliance.ports import GateStore
from compliance.redis_store import RedisGateStore
from compliance.reload import RulesHolder, RulesWatcher, load_rules_file
from compliance.service import ComplianceService, utc_now
from compliance.spool import LedgerSpool
from compliance.sql import SqlLedger
from compliance.sql_gate import SqlGateStore
from compliance.watch_status import board_for
from ivr.db import migrate
from ivr.evidence import EvidenceSink
from ivr.settings import Settings

SQL_WORKERS = 4
SQL_MAX_PENDING = 256


def build_service(
    settings: Settings,
    *,
    engine: sa.Engine,
    evidence: EvidenceSink,
    spool: LedgerSpool | None,
    clock: Callable[[], datetime] = utc_now,
    migrate_db: bool = True,
) -> ComplianceService:
    """The one factory: SQL ledger on ``engine`` (migrated unless ``migrate_db`` is false),
    Redis gate store if ``redis_url`` else SQL, the rules watcher publishing to this host's
    status board.

    ``evidence`` is the hash-chained evidence log (``records.evidence_store.SqlEvidenceLog``)
    the composition root built: every DNC and consent change is chained evidence (inv3).
    ``spool`` is the process's outage spool (``compliance.outage.open_outage_spool``: DNC
    entries and consents the ledger cannot take are spooled and acknowledged), or ``None``
    where a failed write should reach the person who made it (CLI, console).
    """
    if migrate_db:
        migrate(settings.sqlalchemy_url)
    holder = RulesHolder(load_rules_file(settings.rules_path))
    timeout_s = settings.gate_timeout_ms / 1000
    sql = SqlPool("compliance-sql", workers=SQL_WORKERS, max_pending=SQL_MAX_PENDING)
    gate_store: GateStore
    if settings.redis_url:
        prefix = f"{settings.redis_key_prefix}:compliance"
        gate_store = RedisGateStore(
            settings.redis_url, prefix, timeout_s, cluster=settings.redis_cluster
        )
    else:
        gate_store = SqlGateStore(engine, sql)
    return ComplianceService(
        holder=holder,
        ledger=SqlLedger(engine, log_engine=decision_log_engine(settings.sqlalchemy_url)),
        gate_store=gate_store,
        evidence=evidence,
        index_key=settings.key_bytes("blind_index"),
        sql=sql,
        timeout_s=timeout_s,
        clock=clock,
        spool=spool,
        watcher=RulesWatcher(
            settings.rules_path,
            holder,
            evidence,
            settings.rules_poll_s,
            status=board_for(settings.data_dir),
        ),
    )
