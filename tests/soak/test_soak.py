"""The short fault soak in ``make test`` (``make soak`` runs the long one; README "Fault soak"):
inbound calls and a campaign while Redis, the bot, PostgreSQL, ESL connections, the ASR and the
clock (quiet hours) are broken in turn; then the audit must find nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from soak_run import SoakParams, run_soak

from ivr.settings import REPO_ROOT

pytestmark = pytest.mark.slow

SHORT = SoakParams(
    duration_s=40.0,
    inbound_concurrency=60,
    time_scale=0.1,
    campaign_size=60,
    campaigns_at_once=1,
    hot_numbers=8,
    seeded_dnc=5,
    campaign_concurrency=10,
    campaign_cps=8.0,
    hold_s=1.5,
    drain_s=60.0,
    max_call_s=20.0,
)


async def test_short_fault_soak_finds_no_violation(tmp_path: Path) -> None:
    cache = REPO_ROOT / "var" / "soak-prompt-cache"  # content-addressed: shared across runs
    cache.mkdir(parents=True, exist_ok=True)
    report = await run_soak(SHORT, tmp_path, cache)
    print(report.summary())
    assert report.violations == [], report.summary()
    assert report.fault_errors == [], report.summary()
    injected = {f.split()[0] for f in report.faults}
    assert injected == {"redis_restart", "bot_kill", "postgres_restart", "esl_drop", "asr_slow",
                        "quiet_hours"}  # fmt: skip
    c = report.counts
    assert c["inbound_calls"] >= SHORT.inbound_concurrency and c["originates"] > 0
    assert c["refusals_acknowledged"] > 0 and c["consents_acknowledged"] > 0
    assert c["calls_in_db_outage"] > 0 and c["spooled_writes"] > 0  # the spool was needed
    assert c["hot_max_per_day"] == 3  # the hot numbers were retried up to the daily cap
