"""Composition of the QA package (a composition root for its adapters).

:func:`build_qa` builds every QA dependency explicitly from settings plus the evidence sink
(required; no logging fallback): the rules holder and its watcher (each rules version compiled
with the learned second stage of :func:`qa.model.configured_model`), the result store, and — for
running calls — :class:`qa.hooks.QaHooks` on an explicit alert sink. :func:`alert_stream` is
the Redis Streams sink from ``IVR_REDIS_URL`` (an error when it is not set: live alerts have no
silent fallback). :func:`build_call_qa` is what the call composition root (``flows.app``)
uses: the orchestrator's :class:`flows.ports.SpeechInspection`, or the explicit, logged
:class:`qa.call_port.QaOff` when ``IVR_QA_CALLS=false``. The console reads results with
:attr:`QaRuntime.store` and alerts with :class:`qa.alerts.RedisAlertStream`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from ivr.db import make_engine
from ivr.errors import ConfigError
from ivr.evidence import EvidenceSink
from ivr.settings import Settings
from qa.alerts import AlertSink, LoggedAlerts, RedisAlertStream
from qa.call_port import CallInspection, QaOff
from qa.hooks import QaHooks
from qa.model import configured_model
from qa.reload import QaRulesHolder, QaRulesWatcher, load_rules_file
from qa.store import QaResultStore

if TYPE_CHECKING:
    from qa.postcall import RecordingQa
    from qa.spooled_results import QaResultSpool
    from records.vault import Vault

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class QaRuntime:
    holder: QaRulesHolder
    watcher: QaRulesWatcher
    store: QaResultStore
    engine: Engine

    def hooks(self, alerts: AlertSink) -> QaHooks:
        """The orchestrator's QA hooks on ``alerts`` (call ``await hooks.start()``)."""
        return QaHooks(self.holder, alerts, self.store_evidence, self.store)

    @property
    def store_evidence(self) -> EvidenceSink:
        return self.store.evidence


def build_qa(
    settings: Settings,
    evidence: EvidenceSink,
    engine: Engine | None = None,
    *,
    spool: QaResultSpool | None = None,
) -> QaRuntime:
    """Rules (validated: a bad file is a :class:`compliance.rules.RulesError`), watcher, store
    (``spool``: the process's outage spool for results, :mod:`qa.spooled_results`)."""
    engine = engine or make_engine(settings.sqlalchemy_url)
    model = configured_model(settings)
    holder = QaRulesHolder(load_rules_file(settings.qa_rules_path, model))
    watcher = QaRulesWatcher(settings.qa_rules_path, holder, settings.qa_rules_poll_s, model)
    return QaRuntime(holder, watcher, QaResultStore(engine, evidence, spool=spool), engine)


def alert_stream(settings: Settings) -> RedisAlertStream:
    """The live-alert stream on ``IVR_REDIS_URL`` (key ``<IVR_REDIS_KEY_PREFIX>:qa:alerts``)."""
    if not settings.redis_url:
        raise ConfigError("live QA alerts need IVR_REDIS_URL (a Redis stream)")
    return RedisAlertStream.from_url(
        settings.redis_url, settings.redis_key_prefix, cluster=settings.redis_cluster
    )


def build_recording_qa(settings: Settings, vault: Vault, runtime: QaRuntime) -> RecordingQa:
    """Post-call QA of stored recordings with the configured ASR and VAD (``speech.factory``;
    the engines load here, so build this only when a recording is to be inspected)."""
    from qa.postcall import RecordingQa
    from speech.factory import build_asr, build_vad

    return RecordingQa(
        vault,
        runtime.store,
        build_asr(settings),
        lambda rate: build_vad(settings, rate),
        lambda: runtime.holder.current,
        settings.institution_name,
        frozenset({settings.bot_id}),
    )


async def build_call_qa(
    settings: Settings,
    evidence: EvidenceSink,
    engine: Engine,
    *,
    spool: QaResultSpool | None = None,
) -> CallInspection | QaOff:
    """The orchestrator's QA, started (rules watcher, alert publisher): live alerts on the
    Redis stream when ``IVR_REDIS_URL`` is set, else logged (said so here); ``QaOff`` only
    when ``IVR_QA_CALLS=false`` (said so here, and by ``ivr doctor``). ``spool``: results the
    database cannot take during an outage are spooled there (sealed) and replayed."""
    if not settings.qa_calls:
        log.warning(
            "QA of calls is OFF (IVR_QA_CALLS=false): bot sentences are not checked before "
            "they are spoken, no live alerts, no per-call QA results"
        )
        return QaOff()
    runtime = build_qa(settings, evidence, engine, spool=spool)
    alerts: RedisAlertStream | LoggedAlerts
    if settings.redis_url:
        alerts = alert_stream(settings)
    else:
        log.warning("QA live alerts are logged, not streamed: IVR_REDIS_URL is not set")
        alerts = LoggedAlerts()
    inspection = CallInspection(runtime.hooks(alerts), runtime.watcher, alerts)
    await inspection.start()
    log.info(
        "QA of calls on: rules %s, alerts to %s",
        runtime.holder.current.version,
        getattr(alerts, "key", "the log"),
    )
    return inspection
