"""One settings object for the whole platform.

Values come from (highest first) explicit overrides, `DIJKWACHT_*` environment variables and an
optional TOML file (`DIJKWACHT_CONFIG`, else `./dijkwacht.toml`). Invalid values stop start-up
with a `ConfigError` naming each setting and the reason.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.errors import ConfigError

ENV_PREFIX = "DIJKWACHT_"
CONFIG_FILE_ENV = "DIJKWACHT_CONFIG"
DEFAULT_CONFIG_FILE = Path("dijkwacht.toml")

# Values that people copy from examples; refused as secrets outside development.
PLACEHOLDER_SECRETS = frozenset(
    {"", "changeme", "change-me", "changethis", "secret", "password", "admin", "test", "xxx"}
)
MIN_SECRET_LENGTH = 32

Environment = Literal["development", "test", "production"]
SecretName = Literal["secret_key", "pseudonym_key", "audit_key", "audit_signing_key"]
SECRET_NAMES: tuple[SecretName, ...] = (
    "secret_key",
    "pseudonym_key",
    "audit_key",
    "audit_signing_key",
)


def _config_file() -> Path | None:
    explicit = os.environ.get(CONFIG_FILE_ENV)
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_FILE_ENV}: file {path} does not exist")
        return path
    return DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None


class ScheduledTask(pydantic.BaseModel):
    """A periodic task operators add under `[scheduled_tasks.<name>]` in the TOML file."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    task: str = Field(
        pattern=r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$", description="<domain>.<action>"
    )
    every_seconds: float = Field(gt=0, le=31 * 24 * 3600)
    args: tuple[Any, ...] = ()


class Webhook(pydantic.BaseModel):
    """An HTTP endpoint notifications are POSTed to, signed with its own HMAC secret."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr


class TailFile(pydantic.BaseModel):
    """A log file the tailer follows: its path and a parser name (`json`, `nginx`, ...)."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    path: Path
    # Checked against the parser registry when the tailer starts (core imports no domain).
    format: str = Field(pattern=r"^[a-z0-9-]{1,32}$")


class IntelFeed(pydantic.BaseModel):
    """A threat-intelligence feed refreshed on a schedule: a local path or an HTTP(S) URL."""

    model_config = pydantic.ConfigDict(extra="forbid", frozen=True)

    location: str = Field(min_length=1, max_length=2000)
    format: Literal["misp-feed", "misp", "stix", "csv", "warninglist"]
    confidence: int = Field(default=50, ge=0, le=100)
    tlp: Literal["clear", "green", "amber", "amber+strict", "red"] = "amber"
    half_life_days: float | None = Field(default=None, gt=0, le=3650)


class Settings(BaseSettings):
    """Every setting of the platform; see docs/configuration.md for the full list."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        extra="forbid",
        validate_default=True,
        frozen=True,
        # The docstring under each field is its description: docs/configuration.md is
        # generated from them (dijkwacht/reference.py), so code and docs cannot drift.
        use_attribute_docstrings=True,
    )

    # -- platform ---------------------------------------------------------------------------
    environment: Environment = "production"
    """`development`, `test` or `production`; placeholder secrets are refused outside
    development."""

    data_dir: Path = Path("var")
    """Where the embedded databases, the broker file, generated secrets and run state live;
    created 0700 with its files 0600, and checked for writes at start-up (docs/collectors.md,
    "When things go wrong")."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """How much the processes log."""

    timezone: str = "Europe/Amsterdam"
    """The zone people read times in; storage is always UTC."""

    secret_key: SecretStr | None = None
    """Signs sessions; at least 32 characters when set. Unset: generated once and kept in
    `data_dir/secrets/` (mode 0600)."""

    pseudonym_key: SecretStr | None = None
    """Key of the keyed hash that turns resident identifiers (BSN) into pseudonyms; at least 32
    characters when set, generated when unset. Changing it changes every pseudonym."""

    audit_key: SecretStr | None = None
    """HMAC key of the audit chain; generated when unset. Kept here, never in the database, so
    someone who can edit the database cannot re-chain the log (docs/audit.md)."""

    audit_signing_key: SecretStr | None = None
    """Seed of the Ed25519 key that signs audit checkpoints; generated when unset
    (docs/audit.md)."""

    # -- storage ----------------------------------------------------------------------------
    database_url: str | None = None
    """SQLAlchemy URL of the relational database (accounts, audit log, cases). Unset: SQLite
    in `data_dir`."""

    event_store: Literal["sqlite", "elasticsearch"] = "sqlite"
    """Where events and alerts are stored: embedded SQLite files or Elasticsearch."""

    elasticsearch_url: str = "http://127.0.0.1:9200"
    """Elasticsearch, used when `event_store = "elasticsearch"`."""

    elasticsearch_prefix: str = Field(default="dijkwacht", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    """Index names start with this prefix (`<prefix>-events-YYYY.MM.DD`, `<prefix>-alerts`)."""

    # -- detection --------------------------------------------------------------------------
    detection_rules: list[Path] = Field(default_factory=list)
    """Rule folders; empty: the rule pack that ships with Dijkwacht."""

    detection_stacks: list[str] = Field(default_factory=lambda: ["none"], min_length=1)
    """pySigma pipeline stacks the rules are evaluated under (`none`: field names as in the
    events)."""

    detection_windows_mapping: bool = True
    """Match Windows events (`winlog.*`: EVTX files, Winlogbeat, Elastic Agent) in their raw
    Windows field form under the SigmaHQ Windows stacks (`sysmon` and `windows-audit`, each with
    `windows-logsources`) instead of `detection_stacks`, so SigmaHQ Windows rules run as
    written; off: they are matched like any other event."""

    detection_default_mode: Literal["streaming", "scheduled"] = "streaming"
    """How a rule or correlation runs unless `detection_modes` names it: `streaming` (the
    compiled matcher in each collector, on the events it received) or `scheduled` (the beat task
    `detection.scheduled_search` over all collectors' events; needs `event_store =
    "elasticsearch"`, else start-up stops with an error)."""

    detection_modes: dict[str, Literal["streaming", "scheduled"]] = Field(default_factory=dict)
    """Per-rule mode by rule id, overriding `detection_default_mode`."""

    detection_compile_cache: bool = True
    """Keep compiled rules on disk (`detection_cache_dir`), so a collector that restarts with
    unchanged rule files loads them instead of compiling them again (docs/detection-engine.md);
    off: every start compiles every rule."""

    detection_cache_dir: Path | None = None
    """Folder of the on-disk compile cache; created with mode 0700 and used only while no other
    user can write to it. Unset: `data_dir/cache/rules`."""

    scheduled_search_every_seconds: float = Field(default=60, gt=0, le=24 * 3600)
    """Seconds between runs of the scheduled searches."""

    scheduled_search_lookback_seconds: float = Field(default=300, ge=0, le=7 * 24 * 3600)
    """Late events (by `event.ingested`) within this window are still searched on the next
    run."""

    scheduled_search_max_alerts: int = Field(default=100, ge=1, le=10_000)
    """At most this many alerts per scheduled search run and rule."""

    compliance_check_every_seconds: float = Field(default=3600, gt=0, le=7 * 24 * 3600)
    """Seconds between runs of the scheduled compliance check (beat task `compliance.check`,
    which beat calls every five minutes and which runs once the last check is this old): it
    verifies the audit chain (recorded as run by `scheduler`), then recomputes the status and
    evidence of every BIO2 measure and alerts the owner of a measure that turned red."""

    # -- task queue -------------------------------------------------------------------------
    broker_url: str | None = None
    """Celery broker (`sqla+sqlite:///…` or `redis://…`). Unset: kombu's SQLAlchemy transport
    on a SQLite file in `data_dir`."""

    result_backend: str | None = None
    """Celery results (`db+sqlite:///…` or `redis://…`). Unset: SQLite in `data_dir`."""

    broker_polling_interval: float = Field(default=0.1, gt=0, le=10)
    """Seconds between broker polls on the embedded transport."""

    scheduled_tasks: dict[str, ScheduledTask] = Field(default_factory=dict)
    """Extra Celery beat entries by name (`[scheduled_tasks.<name>]` with `task`,
    `every_seconds`, `args`), next to the schedules the domains register in code."""

    # -- web --------------------------------------------------------------------------------
    http_host: str = "127.0.0.1"
    """Address the API and dashboard listen on."""

    http_port: int = Field(default=8000, ge=1, le=65535)
    """Port the API and dashboard listen on."""

    http_workers: int = Field(default=2, ge=1, le=32)
    """Web processes `dijkwacht up` starts for the API and dashboard (uvicorn `--workers`).
    One process runs Python on one core at a time; with 30 analysts on the pages it was the
    bottleneck of a 2-core machine (bench/load.py). Sessions, lockouts and the audit chain live
    in the database, so any number of processes share them; `/metrics` sums the workers' HTTP
    latency histograms (prometheus_client's multiprocess files under `run/http-metrics`)."""

    collector_nice: int = Field(default=5, ge=0, le=19)
    """CPU niceness `dijkwacht up` gives the collector (0: the same priority as the pages).
    The collector's input is buffered (the durable spool, TCP windows, HTTP 503 + Retry-After),
    the analysts' pages are not: on a busy 2-core machine the pages get the CPU first and the
    collector catches up in the gaps (bench/load.py, docs/collectors.md)."""

    oidc_enabled: bool = False
    """Optional OIDC login (authorization code + PKCE); off by default. See
    docs/dashboard.md."""

    oidc_issuer: str | None = None
    """The OIDC issuer URL (its discovery document is read from there)."""

    oidc_client_id: str | None = None
    """This platform's client id at the issuer."""

    oidc_client_secret: SecretStr | None = None
    """This platform's client secret at the issuer, if it has one."""

    oidc_redirect_url: str | None = None
    """The callback URL registered at the issuer. Unset: `<this site>/login/oidc/callback`."""

    oidc_scopes: str = "openid profile email"
    """Scopes asked for at login."""

    oidc_username_claim: str = Field(default="preferred_username", min_length=1, max_length=100)
    """ID-token claim that must equal a local username."""

    oidc_provision_role: Literal["analyst", "incident_manager", "crisis_team", "dpo"] | None = None
    """When set, unknown OIDC users are created with this role (never admin); unset: only
    existing local users may log in."""

    oidc_timeout_seconds: float = Field(default=10, gt=0, le=120)
    """Timeout of calls to the issuer (token, JWKS)."""

    # -- collectors -------------------------------------------------------------------------
    syslog_enabled: bool = True
    """Whether `dijkwacht up` starts the collector (syslog, file tailers, live capture)."""

    syslog_host: str = "127.0.0.1"
    """Address the syslog listeners bind to."""

    syslog_port: int = Field(default=5514, ge=1, le=65535)
    """Port of the syslog listeners, UDP and TCP (no root needed for 5514)."""

    syslog_tls_port: int = Field(default=6514, ge=1, le=65535)
    """Port of syslog over TLS; on only when `syslog_tls_cert` and `syslog_tls_key` are set."""

    syslog_tls_cert: Path | None = None
    """PEM certificate (chain) of syslog over TLS."""

    syslog_tls_key: Path | None = None
    """PEM private key of syslog over TLS."""

    syslog_max_message_bytes: int = Field(default=64 * 1024, ge=480, le=16 * 1024 * 1024)
    """Longest syslog message accepted; longer ones are dead-lettered."""

    syslog_sender_timezones: dict[str, str] = Field(default_factory=dict)
    """Zone of each RFC 3164 sender whose clock is not in `timezone`, keyed by its address (the
    peer of a UDP/TCP/RELP connection) or by the HOSTNAME in its messages, e.g. TOML
    `[syslog_sender_timezones]` `"10.0.0.5" = "UTC"`. RFC 3164 times carry no offset; a sender
    not listed is read in `timezone` (the collector's zone). Also used for auth.log files."""

    syslog_udp_receive_buffer_bytes: int = Field(
        default=8 * 1024 * 1024, ge=4096, le=1024 * 1024 * 1024
    )
    """UDP socket receive buffer (SO_RCVBUF) that absorbs bursts; the kernel caps it at
    `net.core.rmem_max` unless the collector has CAP_NET_ADMIN. Overflow drops are counted."""

    ingest_batch_size: int = Field(default=1000, ge=1, le=100_000)
    """Events per write transaction on the ingest path."""

    spool_max_pending: int = Field(default=100_000, ge=1, le=100_000_000)
    """Events waiting in the spool before collectors apply back-pressure (TCP pauses, HTTP
    503)."""

    source_silent_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    """A source that sent nothing for this long is reported silent on /metrics and in
    status."""

    expected_source_check_seconds: int = Field(default=60, ge=10, le=24 * 3600)
    """How often beat checks the expected log sources and alerts on missing or silent ones."""

    advisory_sources: list[str] = Field(default_factory=list)
    """CSAF advisory sources beat imports from: `provider-metadata.json` URLs of CSAF providers
    (e.g. NCSC-NL), document URLs, files or folders (docs/advisories.md). Empty: import by hand
    only (`dijkwacht advisories import`)."""

    advisory_refresh_minutes: int = Field(default=60, ge=5, le=7 * 24 * 60)
    """Minutes between scheduled imports of `advisory_sources`."""

    ingest_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, le=1024**3)
    """Largest HTTP ingest request body."""

    ingest_max_line_bytes: int = Field(default=1024 * 1024, ge=256, le=64 * 1024 * 1024)
    """Longest line in an HTTP ingest body or a tailed file; longer ones are dead-lettered."""

    ingest_http_enabled: bool = True
    """Whether the collector serves HTTP batch ingest. It runs in the collector process on its
    own port, so dashboard load cannot starve it; the dashboard's old route redirects (308)."""

    ingest_http_host: str = "127.0.0.1"
    """Address HTTP batch ingest listens on."""

    ingest_http_port: int = Field(default=8001, ge=0, le=65535)
    """Port of HTTP batch ingest (0: any free port, for tests)."""

    ingest_idempotency_hours: float = Field(default=24.0, gt=0, le=30 * 24)
    """How long an `Idempotency-Key` is remembered: a retry within it is stored once."""

    relp_enabled: bool = True
    """Whether the collector accepts RELP (rsyslog's `omrelp`): each message is acknowledged
    only once it is in the spool."""

    relp_host: str = "127.0.0.1"
    """Address the RELP listener binds to."""

    relp_port: int = Field(default=2514, ge=0, le=65535)
    """Port of the RELP listener (0: any free port, for tests)."""

    relp_tls_port: int = Field(default=2515, ge=0, le=65535)
    """Port of RELP over TLS (omrelp `tls="on"`); on when `syslog_tls_cert` and
    `syslog_tls_key` are set."""

    tail_files: list[TailFile] = Field(default_factory=list)
    """Files `dijkwacht collect` follows, as TOML `[[tail_files]]` tables with `path` and
    `format` (`json`, `nginx`, `apache`, `authlog`, `syslog`, `app-audit-json`,
    `app-audit-csv`); followed across rotation, offsets checkpointed in the spool."""

    tail_poll_interval: float = Field(default=1.0, gt=0, le=60)
    """Seconds between looks at an idle tailed file."""

    capture_interfaces: list[str] = Field(default_factory=list)
    """Interfaces `dijkwacht collect` captures packets on (flows, DNS, HTTP, TLS SNI), one
    thread each; each needs CAP_NET_RAW. Empty: no live capture."""

    context_dir: Path | None = None
    """Folder the case system, HR and BRP exports put enrichment context tables in
    (docs/detection-content.md); validated and published to `data_dir/context` every 5
    minutes by `collectors.refresh_context`."""

    # -- breach reporting (DPO) -------------------------------------------------------------
    organisation_name: str = Field(default="Gemeente", min_length=1, max_length=200)
    """Who we are on the AP notification form and in letters."""

    dpo_name: str | None = None
    """The DPO's name on the AP form."""

    dpo_email: str | None = None
    """The DPO's e-mail address on the AP form; breach reminders go here when
    `breach_notify_group` names no group."""

    dpo_phone: str | None = None
    """The DPO's telephone number on the AP form."""

    breach_reminder_hours: tuple[float, ...] = (24.0, 48.0, 66.0)
    """Hours after awareness at which the DPO is reminded of the 72-hour GDPR deadline."""

    nis2_applies: bool = True
    """Municipalities are essential entities under NIS2/Cbw: its 24 h / 72 h / one-month
    clocks run."""

    processing_register_file: Path | None = None
    """Art. 30 processing register (YAML or CSV); when set, `dijkwacht up` loads it at start
    (errors name file, line and field)."""

    breach_notify_group: str = Field(default="dpo", min_length=1, max_length=100)
    """Recipient group (in `notify_recipients`) that gets breach reminders by e-mail; when the
    group is missing, `dpo_email`. Exercise breaches' reminders are never sent."""

    letter_recipient_retention_days: int = Field(default=90, ge=1, le=3650)
    """Days after release that letter recipients' names, addresses and e-mails are kept; then
    only counts and hashes stay (GDPR storage limitation)."""

    # -- playbooks: notifications and response actions ------------------------------------
    smtp_host: str = "127.0.0.1"
    """Mail server for notifications and letters."""

    smtp_port: int = Field(default=25, ge=1, le=65535)
    """Port of the mail server."""

    smtp_sender: str = "dijkwacht@localhost"
    """From address of the platform's mail."""

    smtp_timeout_seconds: float = Field(default=10, gt=0, le=300)
    """Timeout of one mail delivery."""

    notify_recipients: dict[str, list[str]] = Field(default_factory=dict)
    """Recipient groups a playbook's notification step names (`to: soc`), by group name."""

    webhooks: dict[str, Webhook] = Field(default_factory=dict)
    """Signed webhooks notifications may go to, by name (`url`, `secret`)."""

    notify_max_retries: int = Field(default=3, ge=0, le=20)
    """Retries of a failed notification before it is marked failed."""

    action_targets_dir: Path | None = None
    """Where the shipped actions write (firewall rules, directory stub, quarantine, evidence).
    Unset: `data_dir/targets`."""

    action_timeout_seconds: int = Field(default=120, ge=5, le=3600)
    """Longest run of one automated response action."""

    action_max_retries: int = Field(default=3, ge=0, le=20)
    """Retries of a failed response action before it falls back to manual."""

    action_retry_backoff_seconds: float = Field(default=5.0, gt=0, le=3600)
    """First wait before retrying a failed action; doubles each retry."""

    incident_sla_hours: dict[str, float] = Field(
        default_factory=lambda: {"low": 120.0, "medium": 48.0, "high": 24.0, "critical": 8.0}
    )
    """Hours an open incident of each severity may stay unresolved before the incident list
    marks it overdue (from its creation to `resolved` or `closed`). Keys: low, medium, high,
    critical; a severity left out uses 48 hours."""

    # -- threat intelligence ----------------------------------------------------------------
    intel_feeds: dict[str, IntelFeed] = Field(default_factory=dict)
    """Feeds refreshed by the beat task `intel.refresh`, by source name: `location` (a folder,
    file or `http(s)://` URL), `format` (`misp-feed`, `misp`, `stix`, `csv`, `warninglist`),
    and the defaults `confidence`, `tlp` and `half_life_days` for indicators that carry none."""

    intel_refresh_every_seconds: float = Field(default=3600, gt=0, le=7 * 24 * 3600)
    """Seconds between scheduled refreshes of `intel_feeds` (only when feeds are configured)."""

    intel_fetch_timeout_seconds: float = Field(default=30, gt=0, le=600)
    """Timeout of one HTTP(S) request of a feed refresh."""

    intel_half_life_days: float = Field(default=30, gt=0, le=3650)
    """Decay: an indicator's score (its confidence) halves every this many days after it was
    last seen, unless its feed sets `half_life_days`."""

    intel_min_score: float = Field(default=20, ge=0, le=100)
    """Indicators whose decayed score is below this stop alerting (they stay listed)."""

    intel_hunt_window_hours: float = Field(default=72, gt=0, le=24 * 365)
    """Retro-hunt: how far back new indicators are searched for in stored events."""

    intel_hunt_max_events: int = Field(default=200_000, ge=1, le=50_000_000)
    """Retro-hunt: at most this many stored events are read per hunt (the report says when
    the window held more)."""

    intel_matcher_check_seconds: float = Field(default=5, gt=0, le=3600)
    """How often the streaming matcher checks the indicator version to rebuild itself."""

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("syslog_sender_timezones")
    @classmethod
    def _known_sender_zones(cls, value: dict[str, str]) -> dict[str, str]:
        for sender, zone in value.items():
            try:
                cls._known_timezone(zone)
            except ValueError as exc:
                raise ValueError(f"{sender}: {exc}") from None
        return value

    @field_validator("breach_reminder_hours")
    @classmethod
    def _reminders_before_deadline(cls, value: tuple[float, ...]) -> tuple[float, ...]:
        for hours in value:
            if not 0 < hours < 72:
                raise ValueError(f"{hours} is not between 0 and 72 hours after awareness")
        return tuple(sorted(set(value)))

    @field_validator("broker_url", "result_backend", "database_url")
    @classmethod
    def _url_has_scheme(cls, value: str | None) -> str | None:
        if value is not None and "://" not in value:
            raise ValueError(f"{value!r} is not a URL (expected scheme://...)")
        return value

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        if self.oidc_enabled and not (self.oidc_issuer and self.oidc_client_id):
            raise ValueError("oidc_enabled needs oidc_issuer and oidc_client_id")
        if self.oidc_issuer and "://" not in self.oidc_issuer:
            raise ValueError(f"oidc_issuer {self.oidc_issuer!r} is not a URL")
        return self

    @model_validator(mode="after")
    def _tls_pair(self) -> Settings:
        if (self.syslog_tls_cert is None) != (self.syslog_tls_key is None):
            raise ValueError(
                "syslog_tls_cert and syslog_tls_key: set both to enable syslog over TLS, or neither"
            )
        return self

    @property
    def _tls_configured(self) -> bool:
        return self.syslog_tls_cert is not None and self.syslog_tls_key is not None

    @model_validator(mode="after")
    def _distinct_ports(self) -> Settings:
        """Two listeners on one TCP port fail at start-up; say which settings clash now."""
        used: dict[int, str] = {self.http_port: "http_port"}
        candidates = [
            ("syslog_port", self.syslog_port, self.syslog_enabled),
            ("ingest_http_port", self.ingest_http_port, self.ingest_http_enabled),
            ("relp_port", self.relp_port, self.relp_enabled),
            ("syslog_tls_port", self.syslog_tls_port, self.syslog_tls_cert is not None),
            ("relp_tls_port", self.relp_tls_port, self.relp_enabled and self._tls_configured),
        ]
        for name, port, enabled in candidates:
            if not enabled or port == 0:
                continue
            if port in used:
                raise ValueError(f"{name}: port {port} is already used by {used[port]}")
            used[port] = name
        return self

    @model_validator(mode="after")
    def _no_placeholder_secrets(self) -> Settings:
        if self.environment == "development":
            return self
        for name in SECRET_NAMES:
            value: SecretStr | None = getattr(self, name)
            if value is None:
                continue
            raw = value.get_secret_value()
            if raw.strip().lower() in PLACEHOLDER_SECRETS:
                raise ValueError(
                    f"{name}: placeholder secret refused outside development; "
                    "set a random value or leave it unset to generate one"
                )
            if len(raw) < MIN_SECRET_LENGTH:
                raise ValueError(
                    f"{name}: must be at least {MIN_SECRET_LENGTH} characters outside development"
                )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _config_file()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return tuple(sources)

    # Derived locations; one place decides where each embedded file lives.
    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def rule_cache_dir(self) -> Path | None:
        """Where compiled rules are kept on disk; None when `detection_compile_cache` is off."""
        if not self.detection_compile_cache:
            return None
        folder = self.detection_cache_dir or self.resolved_data_dir / "cache" / "rules"
        return folder.expanduser().resolve()

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_data_dir / 'dijkwacht.sqlite'}"

    @property
    def event_db_path(self) -> Path:
        return self.resolved_data_dir / "events.sqlite"

    @property
    def alert_db_path(self) -> Path:
        # Own file: SQLite has one writer per file, and ingest must not block saving alerts.
        return self.resolved_data_dir / "alerts.sqlite"

    @property
    def celery_broker_url(self) -> str:
        return self.broker_url or f"sqla+sqlite:///{self.resolved_data_dir / 'broker.sqlite'}"

    @property
    def celery_result_backend(self) -> str:
        return self.result_backend or f"db+sqlite:///{self.resolved_data_dir / 'results.sqlite'}"

    @property
    def beat_schedule_path(self) -> Path:
        return self.resolved_data_dir / "celerybeat-schedule"

    @property
    def resolved_action_targets_dir(self) -> Path:
        return (
            (self.action_targets_dir or self.resolved_data_dir / "targets").expanduser().resolve()
        )

    def secret(self, name: SecretName) -> str:
        """The secret's value; generated once and stored 0600 in the data dir when unset."""
        value: SecretStr | None = getattr(self, name)
        if value is not None:
            return value.get_secret_value()
        return _generated_secret(self.resolved_data_dir, name)


def _generated_secret(data_dir: Path, name: str) -> str:
    path = data_dir / "secrets" / name
    if path.is_file():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    value = secrets.token_urlsafe(48)
    # Written whole to a private file, then linked into place: link() fails when the name
    # exists, so two processes (or threads) starting together agree on one key, and no reader
    # ever sees the file created but still empty (an empty audit key signed entries that way).
    fd, scratch = tempfile.mkstemp(prefix=f".{name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(value)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(scratch, path)
        except FileExistsError:
            return path.read_text(encoding="utf-8").strip()
        return value
    finally:
        os.unlink(scratch)


def _describe(error: dict[str, Any]) -> str:
    location = ".".join(str(part) for part in error.get("loc", ()) if part != "__root__")
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    if not location:
        return message
    env_name = ENV_PREFIX + location.upper()
    shown = error.get("input")
    got = (
        f" (got {shown!r})"
        if isinstance(shown, str | int | float) and "secret" not in location
        else ""
    )
    return f"{location} ({env_name}): {message}{got}"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from overrides, environment and TOML; raise ConfigError on bad values."""
    try:
        return Settings(**overrides)
    except pydantic.ValidationError as exc:
        problems = "\n".join(f"  - {_describe(dict(err))}" for err in exc.errors())
        raise ConfigError(f"invalid configuration:\n{problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call `get_settings.cache_clear()` or pass their own."""
    return load_settings()
