"""Example requests of the campaign routes for the role matrix: each seeds its own campaign
(a fresh draft, or one with a list) so every allowed role's request succeeds."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from campaigns.model import DailyWindow
from campaigns.spec import CampaignSpec
from console.context import ConsoleContext
from console.permissions import Role

Request = dict[str, Any]
LIST_CSV = "number,name\n13912345001,张三\n13912345002,李四\n12345,坏号码\n"


def campaign_body(name: str | None = None, **changes: object) -> dict[str, object]:
    return {
        "name": name or f"c-{uuid.uuid4().hex[:8]}",
        "flow": "outbound_notice",
        "purpose": "service",
        "caller_ids": ["95588"],
        "windows": ["09:00-20:00"],
        **changes,
    }


def draft(c: ConsoleContext, *, with_list: bool = False) -> str:
    spec = CampaignSpec(
        f"c-{uuid.uuid4().hex[:8]}",
        "outbound_notice",
        "service",
        ("95588",),
        (DailyWindow.parse("09:00-20:00"),),
    )
    camp = c.campaigns.create(spec, actor="seed", now=c.auth.clock())
    if with_list:
        path = Path(c.settings.data_dir) / f"{camp.id}.csv"
        path.write_text(LIST_CSV, encoding="utf-8")
        c.campaigns.import_list(camp.id, path, now=c.auth.clock())
    return camp.id


CAMPAIGN_EXAMPLES: dict[tuple[str, str], Callable[[Role, ConsoleContext], Request]] = {
    ("GET", "/api/v1/campaigns"): lambda r, c: {},
    ("GET", "/api/v1/campaign-choices"): lambda r, c: {},
    ("GET", "/api/v1/campaigns/{ref}"): lambda r, c: {"path": {"ref": draft(c)}},
    ("POST", "/api/v1/campaigns"): lambda r, c: {"json": campaign_body()},
    ("POST", "/api/v1/campaigns/{ref}/import"): lambda r, c: {
        "path": {"ref": draft(c)},
        "files": {"file": ("list.csv", LIST_CSV.encode(), "text/csv")},
    },
    ("POST", "/api/v1/campaigns/{ref}/{action}"): lambda r, c: {
        "path": {"ref": draft(c, with_list=True), "action": "start"}
    },
    ("GET", "/api/v1/campaigns/{ref}/export"): lambda r, c: {
        "path": {"ref": draft(c, with_list=True)}
    },
}
