"""Hot reload (inv13): a broken file keeps the old rules; a valid one changes decisions live; the
watcher is supervised and its state visible to `ivr doctor` and `/healthz`."""

from __future__ import annotations

import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from cmp_support import SH_NOON, build, rules_text
from fastapi.testclient import TestClient
from helpers.evidence import MemorySink
from helpers.numbers import fresh_number
from helpers.wait import eventually

from compliance.decision import GateRequest, Reason
from compliance.health import rules_health
from compliance.reload import LoadedRules, RulesHolder, RulesWatcher, load_rules_file, read_rules
from compliance.rules import RulesError
from compliance.watch_status import StatusBoard, board_for
from console.app import create_app
from console.context import build_context
from ivr.evidence import EvidenceKind
from ivr.settings import Settings
from shell.doctor import check_rules


def write(path: Path, data: str | bytes, tick: int) -> None:
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    os.utime(path, ns=(tick * 10**9, tick * 10**9))  # a distinct mtime even within one tick


async def test_inv13_broken_file_keeps_old_rules_and_valid_reload_changes_decisions(
    tmp_path: Path, sqlite_url: str
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    holder = RulesHolder(load_rules_file(path))
    sink = MemorySink()
    watcher = RulesWatcher(path, holder, sink, poll_s=0.02, status=None)
    svc, _ = build(sqlite_url, "sql", holder=holder, watcher=watcher)
    await svc.start()
    n = fresh_number()

    def request() -> GateRequest:
        return GateRequest(n, "marketing", uuid.uuid4().hex)

    assert (await svc.dry_run(request())).rules_version == "v1"

    write(path, rules_text("v2").replace("daily_cap: 3", "daily_cap: three", 1), 2)
    await eventually(lambda: watcher.last_error is not None)
    assert watcher.last_error is not None
    assert any(i.line and "daily_cap" in i.field for i in watcher.last_error.issues)
    d = await svc.dry_run(request())
    assert d.allowed and d.rules_version == "v1"

    write(path, rules_text("v3", marketing_end="11:00"), 3)  # 12:00 is now quiet hours
    await eventually(lambda: svc.rules_at().version == "v3")
    d = await svc.check_and_count(request())
    assert d.rules_version == "v3" and d.reasons == (Reason.QUIET_HOURS,)
    assert watcher.last_error is None
    assert sink.kinds() == [EvidenceKind.RULES_RELOADED]
    assert sink.entries[0][2]["version"] == "v3"
    await svc.flush()
    assert svc.ledger.decisions_for(d.attempt_id)[0]["rules_version"] == "v3"
    await svc.close()
    assert SH_NOON.hour == 4  # 12:00 Shanghai


BAD_FILES: dict[str, tuple[bytes, str]] = {
    "gbk": (rules_text("bad").replace('"bad"', '"营销规则"').encode("gbk"), "not UTF-8"),
    "python_tag": (
        rules_text("bad").replace('"bad"', "!!python/object/apply:os.getcwd []").encode(),
        "tag",
    ),
    "python_scalar_tag": (
        rules_text("bad").replace('"bad"', '!!python/name:os.system ""').encode(),
        "constructor",
    ),
    "binary": (bytes(range(256)) * 4, "binary"),
    "control_chars": (b"version: \x01\x02\n", "not allowed"),
    "empty": (b"", "empty"),
    "comments_only": (b"# nothing here\n", "empty"),
    "truncated": (rules_text("bad").encode()[:200], ""),
    "alias_bomb": (
        b'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n'
        + b"".join(
            f"{c}: &{c} [{','.join(['*' + p] * 10)}]\n".encode()
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "alias",
    ),
    "recursive_alias": (b"a: &a [*a]\n", "nested"),
    "deep_nesting": (b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n", "nested"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
async def test_inv13_undecodable_or_unsafe_file_is_a_rules_error_and_later_versions_install(
    kind: str, tmp_path: Path
) -> None:
    data, why = BAD_FILES[kind]
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    holder = RulesHolder(load_rules_file(path))
    watcher = RulesWatcher(path, holder, MemorySink(), poll_s=0.01, status=None)

    write(path, data, 2)
    assert await watcher.check_once() is None
    assert watcher.last_error is not None
    issue = watcher.last_error.issues[0]
    assert issue.source == str(path)
    assert why.lower() in issue.why.lower(), issue
    assert holder.at(datetime.now(UTC)).version == "v1"  # the previous version stays active

    write(path, rules_text("v2"), 3)
    installed = await watcher.check_once()
    assert installed is not None and installed.rules.version == "v2"
    assert watcher.last_error is None and holder.at(datetime.now(UTC)).version == "v2"


def test_inv13_file_replaced_while_read_is_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    real_read = Path.read_bytes
    swaps = [rules_text("v2")]

    def read_then_replace(self: Path) -> bytes:
        data = real_read(self)
        if self == path and swaps:  # another writer replaces the file mid-read, once
            tmp = path.with_suffix(".new")
            tmp.write_text(swaps.pop(), encoding="utf-8")
            os.replace(tmp, path)
        return data

    monkeypatch.setattr(Path, "read_bytes", read_then_replace)
    with pytest.raises(RulesError, match="changed while it was read"):
        read_rules(path)
    swaps.append(rules_text("v3"))
    assert load_rules_file(path).rules.version == "v3"  # read again until consistent


class CrashOnce(RulesHolder):
    """A holder whose first install hits a defect (the watcher loop crashes)."""

    def __init__(self, initial: LoadedRules) -> None:
        super().__init__(initial)
        self.crashed = False

    def install(self, loaded: LoadedRules) -> bool:
        if not self.crashed:
            self.crashed = True
            raise RuntimeError("defect in install")
        return super().install(loaded)


async def test_inv13_watcher_is_restarted_after_a_crash_and_reports_it(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    holder = CrashOnce(load_rules_file(path))
    board = StatusBoard(tmp_path / "board")
    watcher = RulesWatcher(path, holder, MemorySink(), poll_s=0.01, status=board)
    watcher.start()
    try:
        write(path, rules_text("v2"), 2)
        await eventually(lambda: holder.at(datetime.now(UTC)).version == "v2")
        status = watcher.status()
        assert status.running and status.restarts == 1
        assert status.last_crash == "RuntimeError: defect in install"
        await eventually(lambda: [s.active_version for s in board.read_all()] == ["v2"])
        [published] = board.read_all()
        assert published.restarts == 1 and published.pid == os.getpid()
    finally:
        await watcher.stop()
    assert board.read_all() == []  # a stopped watcher withdraws its status


async def test_inv13_doctor_and_healthz_show_a_rejected_file_and_a_stale_watcher(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, rules_text("v1"), 1)
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'ivr.db'}",
        redis_url=None,
        rules_path=path,
    )
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    console = TestClient(create_app(build_context(settings, hasher=cheap)))
    board = board_for(tmp_path)
    holder = RulesHolder(load_rules_file(path))
    watcher = RulesWatcher(path, holder, MemorySink(), 0.01, status=board)
    watcher.start()
    try:
        await eventually(lambda: len(board.read_all()) == 1)
        ok = check_rules(settings)
        assert ok.status == "OK" and "version v1" in ok.detail
        health = console.get("/healthz").json()
        assert health["status"] == "ok" and health["rules"]["status"] == "ok"

        write(path, b"\xff\xfe binary", 2)
        await eventually(lambda: bool(board.read_all()[0].rejected))
        rejected = check_rules(settings)
        assert rejected.status == "FAIL" and "not UTF-8" in rejected.detail
        health = console.get("/healthz").json()
        assert health["status"] == "ok"  # the console itself is alive
        assert health["rules"]["status"] == "degraded"
        [seen] = health["rules"]["watchers"]
        assert seen["verdict"] == "rejected" and "v1 stays active" in seen["detail"]
    finally:
        await watcher.stop()

    # a watcher that stopped polling (its process hangs) is reported, not silent
    hung = replace(watcher.status(), running=True, last_poll_at="2020-01-01T00:00:00+00:00")
    board.publish(hung)
    [stale] = rules_health(path, board, datetime.now(UTC)).watchers
    assert stale.verdict == "stale" and "no poll since 2020-01-01" in stale.detail
    assert check_rules(settings).status == "FAIL"
