"""Hot reload (inv13): a broken file keeps the old rules; a valid one changes decisions live."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path

from cmp_support import SH_NOON, MemorySink, build, fresh_number, rules_text

from compliance.decision import GateRequest, Reason
from compliance.reload import RulesHolder, RulesWatcher, load_rules_file
from ivr.evidence import EvidenceKind


def write(path: Path, text: str, tick: int) -> None:
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime even within one tick


async def test_inv13_broken_file_keeps_old_rules_and_valid_reload_changes_decisions(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    svc, _ = build(sqlite_url, "sql")
    holder = RulesHolder(load_rules_file(path))
    sink = MemorySink()
    svc.holder = holder
    svc.watcher = RulesWatcher(path, holder, sink, poll_s=0.02)
    await svc.start()
    n = fresh_number()

    def request() -> GateRequest:
        return GateRequest(n, "marketing", uuid.uuid4().hex)

    assert (await svc.dry_run(request())).rules_version == "v1"

    write(path, rules_text("v2").replace("daily_cap: 3", "daily_cap: three", 1), 2)
    await asyncio.sleep(0.2)
    assert svc.watcher.last_error is not None
    assert any(i.line and "daily_cap" in i.field for i in svc.watcher.last_error.issues)
    d = await svc.dry_run(request())
    assert d.allowed and d.rules_version == "v1"

    write(path, rules_text("v3", marketing_end="11:00"), 3)  # 12:00 is now quiet hours
    for _ in range(100):
        if svc.rules_at().version == "v3":
            break
        await asyncio.sleep(0.02)
    d = await svc.check_and_count(request())
    assert d.rules_version == "v3" and d.reasons == (Reason.QUIET_HOURS,)
    assert svc.watcher.last_error is None
    assert sink.kinds() == [EvidenceKind.RULES_RELOADED]
    assert sink.entries[0][2]["version"] == "v3"
    await svc.flush()
    assert svc.ledger.decisions_for(d.attempt_id)[0]["rules_version"] == "v3"
    await svc.close()
    assert SH_NOON.hour == 4  # 12:00 Shanghai
