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
from pydantic import SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from core.config_sections import (
    BreachSettings,
    CollectorSettings,
    DetectionSettings,
    IntelSettings,
    PlatformSettings,
    PlaybookSettings,
    StorageSettings,
    TaskQueueSettings,
    WebSettings,
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


# Pydantic lists fields base by base from the far end of the MRO, so the sections are named in
# reverse: `model_fields` (and the generated settings reference) keeps platform first.
class Settings(
    IntelSettings,
    PlaybookSettings,
    BreachSettings,
    CollectorSettings,
    WebSettings,
    TaskQueueSettings,
    DetectionSettings,
    StorageSettings,
    PlatformSettings,
    BaseSettings,
):
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
