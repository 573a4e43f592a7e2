"""``ivr doctor``: one line per dependency: OK, or what is wrong and the command that fixes it."""

from __future__ import annotations

import ipaddress
import os
import socket
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import redis
import sqlalchemy
from redis.exceptions import RedisClusterException
from sqlalchemy.exc import SQLAlchemyError

from compliance.health import rules_health
from compliance.watch_status import board_for
from ivr.db import make_engine
from ivr.redis_conn import SyncRedis, sync_client
from ivr.settings import Settings, mask_url
from shell import rasa_model


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One dependency's state. ``status`` is OK, WARN, FAIL or SKIP."""

    name: str
    status: str
    detail: str
    fix: str = ""

    def as_dict(self) -> dict[str, str]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


def check_rasa_env(_: Settings) -> CheckResult:
    try:
        exe = rasa_model.rasa_executable()
    except rasa_model.TrainingError:
        return CheckResult("rasa env", "FAIL", ".venv-rasa is missing", "make setup")
    return CheckResult("rasa env", "OK", str(exe.parent.parent))


def check_model(_: Settings) -> CheckResult:
    path = rasa_model.model_path()
    if path.exists():
        return CheckResult("rasa model", "OK", f"{path.name} matches the training data")
    return CheckResult("rasa model", "FAIL", "no model for the current training data", "ivr train")


def check_database(settings: Settings) -> CheckResult:
    url = settings.sqlalchemy_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT 1"))
    except SQLAlchemyError as exc:
        return CheckResult(
            "database",
            "FAIL",
            f"{mask_url(url)}: {type(exc).__name__}",
            "check IVR_DATABASE_URL and that the database server is running",
        )
    finally:
        engine.dispose()
    return CheckResult("database", "OK", mask_url(url))


def check_redis(settings: Settings) -> CheckResult:
    if not settings.redis_url:
        return CheckResult("redis", "SKIP", "IVR_REDIS_URL not set: embedded mode (SQLite stores)")
    client: SyncRedis | None = None
    try:
        client = sync_client(
            settings.redis_url,
            cluster=settings.redis_cluster,
            socket_timeout=1,
            socket_connect_timeout=1,
        )
        client.ping()
    except (redis.RedisError, RedisClusterException) as exc:
        return CheckResult(
            "redis",
            "FAIL",
            f"{mask_url(settings.redis_url)}: {type(exc).__name__}",
            "start Redis (redis-server --daemonize yes) or fix IVR_REDIS_URL / IVR_REDIS_CLUSTER",
        )
    finally:
        if client is not None:
            client.close()
    kind = "cluster" if settings.redis_cluster else "single node"
    return CheckResult("redis", "OK", f"{mask_url(settings.redis_url)} ({kind})")


def _http_check(name: str, url: str, fix: str) -> CheckResult:
    try:
        response = httpx.get(url, timeout=2.0)
    except httpx.HTTPError as exc:
        return CheckResult(name, "FAIL", f"{url}: {type(exc).__name__}", fix)
    if response.status_code != 200:
        return CheckResult(name, "FAIL", f"{url}: HTTP {response.status_code}", fix)
    return CheckResult(name, "OK", url)


def check_rasa_server(settings: Settings) -> CheckResult:
    return _http_check("rasa server", f"{settings.rasa_url}/status", "make run")


def check_action_server(settings: Settings) -> CheckResult:
    url = f"http://127.0.0.1:{settings.action_server_port}/health"
    return _http_check("action server", url, "make run")


def _tcp_check(name: str, host: str, port: int, fix: str) -> CheckResult:
    try:
        with socket.create_connection((host, port), timeout=2.0):
            pass
    except OSError as exc:
        return CheckResult(name, "FAIL", f"{host}:{port}: {exc.strerror or exc}", fix)
    return CheckResult(name, "OK", f"{host}:{port}")


def check_esl_port(settings: Settings) -> CheckResult:
    return _tcp_check("esl server", settings.esl_host, settings.esl_port, "make run")


def check_freeswitch(settings: Settings) -> CheckResult:
    if not settings.freeswitch_inbound:
        return CheckResult("freeswitch", "SKIP", "IVR_FREESWITCH_INBOUND not set")
    target = urlsplit(f"//{settings.freeswitch_inbound}")
    return _tcp_check(
        "freeswitch",
        target.hostname or "127.0.0.1",
        target.port or 8021,
        "check FreeSWITCH mod_event_socket (event_socket.conf.xml) and IVR_FREESWITCH_INBOUND",
    )


def check_rules(settings: Settings) -> CheckResult:
    """The rules file on disk and every rules watcher running on this host (inv13)."""
    health = rules_health(settings.rules_path, board_for(settings.data_dir), datetime.now(UTC))
    if health.file_version is None:
        return CheckResult(
            "rules",
            "FAIL",
            f"{health.path} rejected: {'; '.join(health.file_issues)}",
            "fix the file (ivr rules validate); running processes keep their version",
        )
    bad = [w for w in health.watchers if w.verdict != "ok"]
    if bad:
        return CheckResult(
            "rules",
            "FAIL",
            "; ".join(w.detail for w in bad),
            "restart the process whose rules watcher is stale or stopped",
        )
    watching = ", ".join(w.detail for w in health.watchers) or "no running process watches it"
    return CheckResult("rules", "OK", f"version {health.file_version}; {watching}")


def check_call_qa(settings: Settings) -> CheckResult:
    """Quality inspection of calls as the call processes build it (``qa.service.build_call_qa``)."""
    from compliance.rules import RulesError
    from qa.reload import load_rules_file

    if not settings.qa_calls:
        return CheckResult(
            "call qa",
            "WARN",
            "OFF (IVR_QA_CALLS=false): bot sentences are not checked before they are spoken, "
            "no live alerts, no per-call results",
            "unset IVR_QA_CALLS",
        )
    try:
        version = load_rules_file(settings.qa_rules_path).version
    except (RulesError, OSError) as exc:
        return CheckResult(
            "call qa", "FAIL", f"{settings.qa_rules_path}: {exc}", "fix it (ivr qa rules FILE)"
        )
    if not settings.redis_url:
        return CheckResult(
            "call qa",
            "WARN",
            f"on, rules {version}; live alerts logged, not streamed (no IVR_REDIS_URL)",
            "set IVR_REDIS_URL",
        )
    key = f"{settings.redis_key_prefix}:qa:alerts"
    return CheckResult("call qa", "OK", f"on, rules {version}; live alerts on stream {key}")


def check_agent_qa(settings: Settings) -> CheckResult:
    """Live QA of human agent legs (``qa.agent_forks.build_agent_leg_qa``): at
    ``bridge-agent-start`` the call process forks the agent leg (``uuid_audio_fork``) to its
    audio fork server. Needs QA of calls, stream mode and the switch's inbound ESL; the fork's
    WebSocket endpoint must listen and be one the switch can reach."""
    name = "agent leg qa"
    off = "off: agents are covered by the recording's post-call QA only"
    missing = [
        (why, fix)
        for why, fix, ok in (
            ("IVR_QA_CALLS=false", "unset IVR_QA_CALLS", settings.qa_calls),
            (
                f"IVR_AUDIO_MODE={settings.audio_mode} (the audio fork server runs in stream mode)",
                "set IVR_AUDIO_MODE=stream",
                settings.audio_mode == "stream",
            ),
            (
                "IVR_FREESWITCH_INBOUND is not set (no bridge-agent-start events)",
                "set IVR_FREESWITCH_INBOUND to the switch's mod_event_socket (host:port)",
                bool(settings.freeswitch_inbound),
            ),
        )
        if not ok
    ]
    if missing:
        return CheckResult(
            name, "WARN", f"{off} ({'; '.join(w for w, _ in missing)})", missing[0][1]
        )
    host, port = settings.audio_stream_host, settings.audio_stream_port
    url = f"ws://{host}:{port}/audio/<agent leg>"
    listening = _tcp_check(name, _connectable(host), port, "make run (the call process)")
    if listening.status != "OK":
        return CheckResult(name, "FAIL", f"fork endpoint {url}: {listening.detail}", listening.fix)
    switch = urlsplit(f"//{settings.freeswitch_inbound}").hostname or "127.0.0.1"
    if not _loopback(switch) and (_loopback(host) or _wildcard(host)):
        return CheckResult(
            name,
            "WARN",
            f"the switch at {switch} is told to fork agent legs to {url}, which it cannot reach",
            "set IVR_AUDIO_STREAM_HOST to this host's address the switch can reach",
        )
    return CheckResult(
        name, "OK", f"on: agent legs forked at bridge-agent-start to {url} (switch {switch})"
    )


def _address(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _wildcard(host: str) -> bool:
    found = _address(host)
    return not host or (found is not None and found.is_unspecified)


def _loopback(host: str) -> bool:
    found = _address(host)
    return host == "localhost" or (found is not None and found.is_loopback)


def _connectable(host: str) -> str:
    """Where a listener bound to ``host`` is reached from this host."""
    return "127.0.0.1" if _wildcard(host) else host


def check_outage_spool(settings: Settings) -> CheckResult:
    """The outage spool file (``IVR_SPOOL_PATH``): writable, items waiting, the oldest's age.
    Opened read-only when it exists (doctor never creates or writes it)."""
    path = settings.outage_spool_path
    fix = "check IVR_SPOOL_PATH (a folder the call process may write)"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not path.exists():
        if folder.is_dir() and os.access(folder, os.W_OK | os.X_OK):
            return CheckResult("outage spool", "OK", f"{path}: empty (created on first use)")
        return CheckResult("outage spool", "FAIL", f"{path}: folder not writable", fix)
    if not os.access(path, os.R_OK | os.W_OK) or not os.access(path.parent, os.W_OK):
        return CheckResult("outage spool", "FAIL", f"{path}: not writable", fix)
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
        try:
            count, oldest = conn.execute("SELECT count(*), min(spooled_at) FROM items").fetchone()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return CheckResult("outage spool", "FAIL", f"{path}: {type(exc).__name__}", fix)
    if not count:
        return CheckResult("outage spool", "OK", f"{path}: empty")
    age = max(0.0, time.time() - float(oldest))
    detail = f"{path}: {count} items waiting, oldest {age:.0f} s"
    if age > 60:
        return CheckResult(
            "outage spool", "WARN", detail, "check the database (ivr doctor: database)"
        )
    return CheckResult("outage spool", "OK", detail)


def check_console(settings: Settings) -> CheckResult:
    url = f"http://{settings.console_host}:{settings.console_port}/healthz"
    return _http_check("web console", url, "make run")


CHECKS: tuple[Callable[[Settings], CheckResult], ...] = (
    check_rasa_env,
    check_model,
    check_database,
    check_outage_spool,
    check_rules,
    check_call_qa,
    check_agent_qa,
    check_redis,
    check_rasa_server,
    check_action_server,
    check_esl_port,
    check_freeswitch,
    check_console,
)


def run_checks(settings: Settings) -> list[CheckResult]:
    results = [check(settings) for check in CHECKS]
    results.extend(speech_checks(settings))
    return results


def speech_checks(settings: Settings) -> list[CheckResult]:
    """Speech engines usable here, as reported by the speech package."""
    from speech.doctor import doctor_checks

    return [
        CheckResult(f"speech: {c.name}", "OK" if c.ok else "WARN", c.detail, c.fix)
        for c in doctor_checks(settings)
    ]


def format_results(results: list[CheckResult]) -> str:
    lines = []
    for r in results:
        line = f"{r.status:<4}  {r.name:<16} {r.detail}"
        if r.fix and r.status in ("FAIL", "WARN"):
            line += f"  -> fix: {r.fix}"
        lines.append(line)
    return "\n".join(lines)
