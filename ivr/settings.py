"""Application settings, read once at start from ``IVR_*`` environment variables.

Built with pydantic-settings. Secrets are :class:`pydantic.SecretStr` so they never print;
URLs that may carry passwords are masked by :func:`mask_url` wherever they are shown.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ivr.errors import ConfigError
from ivr.keyfiles import KEY_BYTES, read_or_create_key

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Every setting of the app. Environment variables: ``IVR_`` + upper-case field name."""

    model_config = SettingsConfigDict(env_prefix="IVR_", extra="ignore", frozen=True)

    env: Literal["development", "test", "production"] = Field(
        default="development",
        description=(
            "production refuses generated keys: set IVR_MASTER_KEY (or IVR_RECORDS_KEYRING_FILE) "
            "and IVR_BLIND_INDEX_KEY"
        ),
    )
    data_dir: Path = Field(default=REPO_ROOT / "var", description="embedded data (SQLite, keys)")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default SQLite under data_dir"
    )
    db_pool_size: int = Field(default=5, ge=1, description="SQL connections kept per process")
    db_max_overflow: int = Field(default=10, ge=0, description="SQL connections beyond the pool")
    db_pool_timeout_s: float = Field(default=10.0, gt=0, description="wait for a free connection")
    db_pool_recycle_s: int = Field(default=1800, ge=0, description="reopen older connections")
    db_pgbouncer: bool = Field(
        default=False,
        description="PostgreSQL is reached through PgBouncer in transaction pooling: no "
        "server-side prepared statements (they do not survive a pooled transaction)",
    )
    redis_url: str | None = Field(default=None, description="Redis URL; unset = no Redis")
    rasa_tracker_redis_url: str | None = Field(
        default=None,
        description=(
            "Redis of Rasa's tracker and lock stores (endpoints.production.yml; rediss:// for "
            "TLS, the password in the URL); unset = in-memory trackers, one per Rasa server"
        ),
    )
    redis_cluster: bool = Field(
        default=False, description="redis_url names a node of a Redis Cluster (keys hash-tagged)"
    )

    rasa_url: str = "http://127.0.0.1:5005"
    rasa_processes: int = Field(
        default=2,
        ge=1,
        le=16,
        description=(
            "Rasa servers `ivr run` starts, on consecutive ports from rasa_url's; each call's "
            "conversation stays on one of them (chosen from its call id)"
        ),
    )
    rasa_timeout_s: float = 1.5
    rasa_start_timeout_s: float = 120.0
    action_server_port: int = 5055
    esl_host: str = "127.0.0.1"
    esl_port: int = 8084
    esl_reply_timeout_s: float = Field(
        default=10.0, description="a call is aborted when FreeSWITCH does not reply this fast"
    )
    esl_max_call_s: float = Field(default=4 * 3600.0, description="hard cap on one call session")
    esl_workers: int = Field(
        default=1, ge=1, description="ESL server processes sharing the port (SO_REUSEPORT)"
    )
    esl_drain_s: float = Field(
        default=1800.0, ge=0, description="on stop, how long running calls get to finish"
    )
    console_host: str = "127.0.0.1"
    console_port: int = 8000
    freeswitch_inbound: str | None = Field(
        default=None, description="host:port of a FreeSWITCH inbound ESL listener"
    )
    freeswitch_password: SecretStr = SecretStr("ClueCon")

    flows_dir: Path = Field(
        default=REPO_ROOT / "ivr_flows",
        description="published flows and the prompt table (the console publishes here)",
    )
    flows_poll_s: float = Field(default=2.0, description="how often flow files are re-read")
    institution_name: str = "示例银行"
    bot_id: str = "AI-0001"

    blind_index_key: SecretStr | None = Field(
        default=None, description="hex HMAC-SM3 key for phone-number blind indexes"
    )
    master_key: SecretStr | None = Field(
        default=None, description="hex SM4 master key for envelope encryption"
    )

    asr_engine: str = "whisper"
    tts_engine: str = "espeak"
    vad_engine: str = "webrtc"

    # speech (issue 7)
    models_dir: Path | None = Field(
        default=None, description="speech model folders; default data_dir/models"
    )
    whisper_model_dir: Path | None = Field(
        default=None, description="CTranslate2 Whisper folder; default built from the wheels"
    )
    whisper_compute_type: str = "int8"
    # Latency profile, measured (bench/bench_speech.py): window 12 s + beam 2 gives RTF ~0.27 at
    # CER 9.6 % on the samples; 30 s + beam 5 gives CER 7.0 % at RTF ~0.7 on these 2 cores.
    whisper_beam_size: int = 2
    whisper_window_s: float = Field(
        default=12.0, description="Whisper encoder window; shorter is faster, less accurate"
    )
    whisper_suppress_latin: bool = Field(
        default=True, description="suppress Latin-letter tokens (callers speak Mandarin)"
    )
    asr_threads: int = 2
    funasr_model_dir: Path | None = Field(
        default=None, description="local FunASR model folder (asr_engine=funasr)"
    )
    funasr_ws_url: str = Field(
        default="ws://127.0.0.1:10095", description="FunASR runtime server (asr_engine=funasr-ws)"
    )
    funasr_ws_mode: str = "2pass"
    paddlespeech_url: str = Field(
        default="http://127.0.0.1:8090", description="paddlespeech_server (*-server engines)"
    )
    paddlespeech_am_dir: Path | None = None
    paddlespeech_voc_dir: Path | None = None
    paddlespeech_asr_dir: Path | None = None
    tts_voice: str = "cmn-latn-pinyin"
    tts_sample_rate: int = 8000
    prompt_cache_dir: Path | None = Field(
        default=None, description="synthesised prompt cache; default data_dir/prompts"
    )
    spool_path: Path | None = Field(
        default=None,
        description=(
            "outage spool (SQLite, fsync'd) for evidence, DNC and consent writes PostgreSQL "
            "could not take; default data_dir/spool/outage.sqlite3"
        ),
    )
    audio_mode: Literal["record", "stream"] = Field(
        default="record",
        description="how calls hear the caller: per-turn record, or mod_audio_fork streaming",
    )
    audio_stream_host: str = "127.0.0.1"
    audio_stream_port: int = 8086
    barge_in_min_speech_ms: int = 250
    vad_end_silence_ms: int = 600
    asr_biasing: bool = Field(
        default=False,
        description="bias Whisper with each turn's expected words (speech.context); off: "
        "measured to raise false do-not-call on the evaluation set (bench_voice_intent.py)",
    )
    turn_speculative: bool = Field(
        default=True,
        description="stream mode: end turns per dialogue state with speculative ASR "
        "(speech.endpointing); false: the VAD ends turns after vad_end_silence_ms",
    )
    turn_end_silence_ms: int = Field(
        default=450, description="end-of-turn silence when the dialogue state sets none"
    )

    # compliance (issue 3)
    rules_path: Path = Field(
        default=REPO_ROOT / "compliance" / "rules" / "default.yaml",
        description="compliance rules file (hot-reloaded)",
    )
    rules_poll_s: float = Field(default=2.0, description="rules file poll interval")
    gate_timeout_ms: int = Field(default=200, description="gate store timeout; then fail closed")
    redis_key_prefix: str = Field(default="ivr", description="prefix of every Redis key")

    # outbound dialler (issue 14)
    dialler_endpoint: str = Field(
        default="sofia/gateway/carrier/{national}",
        description="originate endpoint template: {national}, {e164} or {digits}",
    )
    dialler_originate_timeout_s: int = Field(default=30, ge=1, le=300)
    dialler_lost_originate_wait_s: float = Field(default=300.0, gt=0)
    dialler_bot_capacity: int = Field(
        default=200, ge=1, description="calls the bots take at once, across campaigns"
    )
    dialler_host: str = "127.0.0.1"
    dialler_port: int = Field(default=8091, description="the dialler's GET /healthz")
    # human floor (issue 18)
    floor_webhooks: dict[str, str] = Field(
        default_factory=dict,
        description='webhook targets by name, e.g. {"crm": "https://...", "antifraud": "https://..."}',
    )
    floor_webhook_secret: SecretStr | None = Field(
        default=None,
        description="HMAC-SHA256 key signing every outbound webhook (required with targets)",
    )
    floor_webhook_max_attempts: int = Field(
        default=8, description="deliveries tried before a webhook goes to the dead-letter table"
    )
    floor_callback_endpoint: str = Field(
        default="sofia/gateway/carrier/{national}",
        description="dial string of a call back ({national} or {e164} is the customer's number)",
    )
    metrics_port: int | None = Field(
        default=None, description="/metrics port of the call process (the console serves its own)"
    )
    actions_metrics_port: int | None = Field(
        default=None, description="/metrics port of the Rasa action server (127.0.0.1)"
    )
    floor_announce_interval_s: float = Field(
        default=30.0, description="waiting callers hear their place and wait this often; 0 = off"
    )
    floor_announce_text: str = "您前面还有{position}位客户，预计等待约{minutes}分钟，请稍候。"
    floor_handle_s: float = Field(
        default=180.0, description="mean handling time of a queued call, for the expected wait"
    )
    floor_callback_sla_s: dict[str, int] = Field(
        default_factory=lambda: {"senior": 2 * 3600, "general": 24 * 3600},
        description="callback tickets are due this many seconds after opening, per queue",
    )

    # quality inspection (issue 16)
    qa_rules_path: Path = Field(
        default=REPO_ROOT / "qa" / "rules" / "default.yaml",
        description="QA rules file (hot-reloaded)",
    )
    qa_rules_poll_s: float = Field(default=2.0, description="QA rules file poll interval")
    qa_model: bool = Field(
        default=True,
        description="QA's learned second stage beside the rules (flags for review, never blocks)",
    )
    qa_model_path: Path = Field(
        default=REPO_ROOT / "qa" / "model" / "qa_model.json",
        description="QA model artefact (scripts/train_qa_model.py)",
    )
    qa_calls: bool = Field(
        default=True,
        description="QA of running calls: bot gate before TTS, live alerts, per-call results "
        "(false: switched off, logged at start and shown by ivr doctor)",
    )

    # records (issue 8)
    records_vault_dir: Path | None = Field(
        default=None, description="encrypted recordings; default data_dir/vault"
    )
    records_keyring_file: Path | None = Field(
        default=None, description="JSON master key ring (rotation); default: master_key alone"
    )
    records_retention_years: int = Field(
        default=2, description="recording retention in years (never below 2)"
    )
    records_retention_by_business: dict[str, int] = Field(
        default_factory=dict, description='per business type, e.g. {"wealth": 5} (never below 2)'
    )
    records_pending_lease_s: float = Field(
        default=3600.0, description="age after which an unfinished ingest is rolled back"
    )
    records_s3_bucket: str | None = Field(
        default=None, description="S3 bucket for recordings; set = S3 instead of records_vault_dir"
    )
    records_s3_endpoint: str | None = Field(
        default=None, description="S3-compatible endpoint URL (MinIO, Ceph RGW, OSS); unset = AWS"
    )
    records_s3_region: str = "us-east-1"
    records_s3_prefix: str = Field(default="recordings/", description="object key prefix")
    records_s3_access_key_id: SecretStr | None = Field(
        default=None, description="unset (with the secret) = boto3's chain (env, role)"
    )
    records_s3_secret_access_key: SecretStr | None = None
    records_s3_addressing_style: Literal["auto", "path", "virtual"] = Field(
        default="auto", description="auto = path style with an endpoint; OSS needs virtual"
    )
    records_s3_timeout_s: float = Field(default=30.0, description="S3 connect and read timeout")
    # evidence checkpoints in a second, write-once store (issue 19): S3 object lock (COMPLIANCE)
    evidence_worm_bucket: str | None = Field(
        default=None, description="S3 bucket with object lock for chain checkpoints; unset = none"
    )
    evidence_worm_endpoint: str | None = Field(
        default=None, description="its S3-compatible endpoint URL; unset = AWS"
    )
    evidence_worm_region: str = "us-east-1"
    evidence_worm_prefix: str = Field(default="evidence-checkpoints/", description="key prefix")
    evidence_worm_access_key_id: SecretStr | None = Field(
        default=None, description="put-only credentials of that bucket (not the database's owner)"
    )
    evidence_worm_secret_access_key: SecretStr | None = None
    evidence_worm_retention_days: int = Field(
        default=3650, ge=1, description="COMPLIANCE-mode retention of each checkpoint object"
    )

    # web console (issue 15)
    institution_timezone: str = Field(
        default="Asia/Shanghai", description="the zone the console shows times in"
    )
    console_jwt_key: SecretStr | None = Field(
        default=None, description="hex HS256 key for API access tokens; default a generated file"
    )
    console_admin_password: SecretStr | None = Field(
        default=None, description="first admin's password; unset = generated and printed once"
    )
    console_access_token_minutes: int = Field(default=15, ge=1, le=60)
    console_refresh_token_days: int = Field(default=7, ge=1, le=90)
    console_session_hours: int = Field(default=12, ge=1, le=72)
    console_lockout_failures: int = Field(
        default=5, ge=1, description="failed sign-ins in a row that lock an account"
    )
    console_lockout_minutes: int = Field(default=15, ge=1)
    console_cookie_secure: bool = Field(
        default=False, description="mark session cookies Secure (set it behind HTTPS)"
    )
    console_max_body_bytes: int = Field(
        default=2 * 1024 * 1024, description="larger request bodies are refused (413)"
    )

    @property
    def sqlalchemy_url(self) -> str:
        """The SQL database URL, defaulting to an SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.data_dir / 'ivr.db'}"

    @property
    def outage_spool_path(self) -> Path:
        """The outage spool's file (``spool_path``, default under ``data_dir``)."""
        return self.spool_path or self.data_dir / "spool" / "outage.sqlite3"

    @property
    def rasa_urls(self) -> list[str]:
        """One URL per Rasa server: ``rasa_url`` and the next ``rasa_processes - 1`` ports, or,
        when ``rasa_url`` is a comma-separated list (servers on several hosts), that list."""
        if "," in self.rasa_url:
            return [u.strip().rstrip("/") for u in self.rasa_url.split(",") if u.strip()]
        base = urlsplit(self.rasa_url)
        port = base.port or 5005
        host = base.hostname or "127.0.0.1"
        host = f"[{host}]" if ":" in host else host  # an IPv6 literal
        return [
            urlunsplit(base._replace(netloc=f"{host}:{port + i}")).rstrip("/")
            for i in range(self.rasa_processes)
        ]

    def key_bytes(self, name: Literal["blind_index", "master"]) -> bytes:
        """A 16-byte key by name: from settings if set, else generated once in data_dir/keys.

        Generated key files are created atomically with mode 0600 (:mod:`ivr.keyfiles`), and
        processes starting together get the same key. With ``IVR_ENV=production`` a key that is
        not configured is a :class:`ConfigError` naming the settings to set; nothing is
        generated.
        """
        configured, variable = {
            "blind_index": (self.blind_index_key, "IVR_BLIND_INDEX_KEY"),
            "master": (self.master_key, "IVR_MASTER_KEY"),
        }[name]
        if configured is not None:
            return _hex_key(configured, variable)
        return self.generated_key(
            name, KEY_BYTES, " and ".join(self.missing_production_keys() or [variable])
        )

    def generated_key(self, name: str, nbytes: int, settings_to_set: str) -> bytes:
        """The development key ``data_dir/keys/<name>.key`` (created atomically, mode 0600, one
        key across processes); with ``IVR_ENV=production`` a :class:`ConfigError` saying
        ``settings_to_set`` instead. Every package's generated key goes through here."""
        if self.env == "production":
            raise ConfigError(f"IVR_ENV=production refuses generated keys; set {settings_to_set}")
        return read_or_create_key(self.data_dir / "keys" / f"{name}.key", nbytes)

    def missing_production_keys(self) -> list[str]:
        """The key settings production still needs (empty when every key is configured)."""
        missing = []
        if self.master_key is None and self.records_keyring_file is None:
            missing.append(
                "IVR_MASTER_KEY (32 hex digits) or IVR_RECORDS_KEYRING_FILE (a JSON key ring)"
            )
        if self.blind_index_key is None:
            missing.append("IVR_BLIND_INDEX_KEY (32 hex digits)")
        return missing


def _hex_key(value: SecretStr, variable: str) -> bytes:
    try:
        key = bytes.fromhex(value.get_secret_value().strip())
    except ValueError:
        raise ConfigError(f"{variable} is not hex") from None
    if len(key) != KEY_BYTES:
        raise ConfigError(f"{variable} must be {2 * KEY_BYTES} hex digits ({KEY_BYTES} bytes)")
    return key


def mask_url(url: str | None) -> str:
    """A URL with its password replaced by ``***`` (for logs and ``ivr doctor``)."""
    if not url:
        return "(not set)"
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
    return urlunsplit(parts._replace(netloc=netloc))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, built on first use (at start)."""
    return Settings()
