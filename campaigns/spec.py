"""A campaign's definition as the campaign manager gives it (pure, validated, frozen).

What ``ivr campaign create`` and ``POST /api/v1/campaigns`` take: name, outbound flow (id and
optional version), rules purpose, caller-ID pool, start/end dates, daily windows (callee local),
attempt budget, retry policy, caps, pacing mode and priority. Checks that need the rules or the
flows (purpose known, flow outbound, windows not empty after the rules cut them) are
:func:`campaigns.repository` / service checks; this module checks the shape only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

from campaigns.model import CampaignError, DailyWindow, PacingMode, RetryPolicy

_NAME = re.compile(r"^[\w][\w .:-]{0,63}$")
_CALLER_ID = re.compile(r"^\+?\d{3,20}$")
MAX_CPS = 1000.0
MAX_CONCURRENCY = 10000


@dataclass(frozen=True, slots=True)
class CampaignSpec:
    """One campaign's settings (see the module docstring)."""

    name: str
    flow_id: str
    purpose: str
    caller_ids: tuple[str, ...]
    windows: tuple[DailyWindow, ...] = (DailyWindow(9 * 60, 21 * 60),)
    start_date: date | None = None
    end_date: date | None = None
    flow_version: str | None = None
    max_attempts: int = 3
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_concurrency: int = 10
    max_cps: float = 5.0
    pacing: PacingMode = PacingMode.BOT
    priority: int = 5
    abandon_target: float = 0.03

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise CampaignError(
                "campaign name: 1-64 letters, digits, spaces, '.', ':', '-'",
                field="name",
                code="campaign.name_format",
            )
        if not self.flow_id:
            raise CampaignError(
                "an outbound flow is required", field="flow", code="campaign.flow_required"
            )
        if not self.caller_ids:
            raise CampaignError(
                "the caller ID pool is empty", field="caller_ids", code="campaign.caller_ids_empty"
            )
        for cid in self.caller_ids:
            if not _CALLER_ID.match(cid):
                raise CampaignError(
                    f"caller ID {cid!r} must be digits (3-20, optional '+')",
                    field="caller_ids",
                    code="campaign.caller_id_format",
                    params={"caller_id": cid},
                )
        if not self.windows:
            raise CampaignError(
                "at least one daily window is required",
                field="windows",
                code="campaign.windows_required",
            )
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise CampaignError(
                "end date is before start date", field="end_date", code="campaign.dates_order"
            )
        if not 1 <= self.max_attempts <= 20:
            raise CampaignError(
                "max attempts per number must be 1-20",
                field="max_attempts",
                code="campaign.max_attempts_range",
                params={"min": 1, "max": 20},
            )
        if not 1 <= self.max_concurrency <= MAX_CONCURRENCY:
            raise CampaignError(
                f"concurrency cap must be 1-{MAX_CONCURRENCY}",
                field="max_concurrency",
                code="campaign.concurrency_range",
                params={"max": MAX_CONCURRENCY},
            )
        if not 0 < self.max_cps <= MAX_CPS:
            raise CampaignError(
                f"calls-per-second cap must be in (0, {MAX_CPS:g}]",
                field="max_cps",
                code="campaign.cps_range",
                params={"max": MAX_CPS},
            )
        if not 0 <= self.priority <= 9:
            raise CampaignError(
                "priority must be 0-9 (9 dials first)",
                field="priority",
                code="campaign.priority_range",
            )
        if not 0 < self.abandon_target <= 0.1:
            raise CampaignError(
                "abandon target must be in (0, 0.1]",
                field="abandon_target",
                code="campaign.abandon_target_range",
            )
