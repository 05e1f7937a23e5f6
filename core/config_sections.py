"""The settings of each part of the platform, one class per section of `core.config.Settings`.

`Settings` combines these sections; they exist so the settings model stays readable, not to be
used on their own. The docstring under each field is its description: docs/configuration.md is
generated from them (dijkwacht/reference.py), so code and docs cannot drift.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import Field, SecretStr

Environment = Literal["development", "test", "production"]


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


class _Section(pydantic.BaseModel):
    """A group of settings; its fields' docstrings become their descriptions."""

    model_config = pydantic.ConfigDict(use_attribute_docstrings=True)


class PlatformSettings(_Section):
    """Where the platform runs and keeps its data, and its secrets."""

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


class StorageSettings(_Section):
    """The relational database and the event store."""

    database_url: str | None = None
    """SQLAlchemy URL of the relational database (accounts, audit log, cases). Unset: SQLite
    in `data_dir`."""

    event_store: Literal["sqlite", "elasticsearch"] = "sqlite"
    """Where events and alerts are stored: embedded SQLite files or Elasticsearch."""

    elasticsearch_url: str = "http://127.0.0.1:9200"
    """Elasticsearch, used when `event_store = "elasticsearch"`."""

    elasticsearch_prefix: str = Field(default="dijkwacht", pattern=r"^[a-z0-9][a-z0-9_-]{0,40}$")
    """Index names start with this prefix (`<prefix>-events-YYYY.MM.DD`, `<prefix>-alerts`)."""


class DetectionSettings(_Section):
    """Rules, pipelines, detection modes and scheduled searches."""

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


class TaskQueueSettings(_Section):
    """The Celery broker, result backend and operator-defined schedules."""

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


class WebSettings(_Section):
    """The API and dashboard server and single sign-on (OIDC)."""

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


class CollectorSettings(_Section):
    """Listeners, spool, tailed files, capture and source watch."""

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


class BreachSettings(_Section):
    """Breach reporting (DPO): the organisation, deadlines, letters."""

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


class PlaybookSettings(_Section):
    """Playbooks: notifications and response actions."""

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


class IntelSettings(_Section):
    """Threat intelligence: feeds, scoring and retro-hunts."""

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
