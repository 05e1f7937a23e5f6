"""Settings: every bad value stops start-up with a message naming the setting and the reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.config import get_settings, load_settings
from core.errors import ConfigError


@pytest.mark.parametrize(
    ("overrides", "named", "reason"),
    [
        ({"http_port": 70000}, "http_port", "less than or equal to 65535"),
        ({"http_port": "abc"}, "DIJKWACHT_HTTP_PORT", "valid integer"),
        ({"syslog_port": 0}, "syslog_port", "greater than or equal to 1"),
        ({"environment": "prod"}, "environment", "'development', 'test' or 'production'"),
        ({"timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"broker_url": "redis"}, "broker_url", "not a URL"),
        ({"log_level": "LOUD"}, "log_level", "DEBUG"),
        ({"ingest_batch_size": 0}, "ingest_batch_size", "greater than or equal to 1"),
        ({"broker_polling_interval": -1}, "broker_polling_interval", "greater than 0"),
        ({"no_such_setting": 1}, "no_such_setting", "Extra inputs are not permitted"),
        ({"ingest_http_port": 8000}, "ingest_http_port", "already used by http_port"),
        ({"relp_port": 5514}, "relp_port", "already used by syslog_port"),
        ({"ingest_idempotency_hours": 0}, "ingest_idempotency_hours", "greater than 0"),
    ],
)
def test_bad_value_names_setting_and_reason(overrides: dict, named: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(**overrides)
    message = str(caught.value)
    assert named in message
    assert reason in message


@pytest.mark.parametrize("placeholder", ["changeme", "secret", "", "password"])
def test_placeholder_secret_refused_outside_development(placeholder: str) -> None:
    with pytest.raises(ConfigError, match="secret_key: placeholder secret refused"):
        load_settings(environment="production", secret_key=placeholder)
    # Development may use anything, so a laptop setup stays easy.
    dev = load_settings(environment="development", secret_key=placeholder)
    assert dev.secret("secret_key") == placeholder


@pytest.mark.parametrize("name", ["audit_key", "audit_signing_key"])
def test_audit_secrets_are_checked_like_the_others(name: str) -> None:
    with pytest.raises(ConfigError, match=f"{name}: placeholder secret refused"):
        load_settings(environment="production", **{name: "changeme"})
    with pytest.raises(ConfigError, match=f"{name}: must be at least 32 characters"):
        load_settings(environment="production", **{name: "short-audit-key"})
    set_key = "k" * 40
    assert load_settings(environment="production", **{name: set_key}).secret(name) == set_key  # type: ignore[arg-type]
    assert set_key not in repr(load_settings(**{name: set_key}))


def test_short_secret_refused_and_secret_not_echoed() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(pseudonym_key="short-but-not-a-placeholder")
    assert "pseudonym_key: must be at least 32 characters" in str(caught.value)
    assert "short-but-not-a-placeholder" not in str(caught.value)


def test_environment_variables_and_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "site.toml"
    config.write_text('http_port = 8100\nsyslog_port = 6514\nlog_level = "DEBUG"\n')
    monkeypatch.setenv("DIJKWACHT_CONFIG", str(config))
    monkeypatch.setenv("DIJKWACHT_SYSLOG_PORT", "7514")
    settings = load_settings()
    assert settings.http_port == 8100  # from the file
    assert settings.syslog_port == 7514  # environment beats the file
    assert settings.log_level == "DEBUG"


def test_default_toml_in_working_directory(tmp_path: Path) -> None:
    (tmp_path / "dijkwacht.toml").write_text("http_port = 8222\n")
    assert load_settings().http_port == 8222


def test_bad_value_in_toml_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("http_port = 99999\n")
    monkeypatch.setenv("DIJKWACHT_CONFIG", str(config))
    with pytest.raises(ConfigError, match="http_port"):
        load_settings()


def test_missing_config_file_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DIJKWACHT_CONFIG", str(tmp_path / "absent.toml"))
    with pytest.raises(ConfigError, match=r"DIJKWACHT_CONFIG: file .* does not exist"):
        load_settings()


def test_cached_factory_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DIJKWACHT_HTTP_PORT", "8300")
    first = get_settings()
    assert first is get_settings()
    assert first.http_port == 8300
    monkeypatch.setenv("DIJKWACHT_HTTP_PORT", "8301")
    assert get_settings().http_port == 8300  # cached until cleared
    get_settings.cache_clear()
    assert get_settings().http_port == 8301


def test_derived_locations_follow_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    data = (tmp_path / "d").resolve()
    assert settings.sqlalchemy_url == f"sqlite:///{data / 'dijkwacht.sqlite'}"
    assert settings.celery_broker_url.startswith("sqla+sqlite:///" + str(data))
    assert settings.celery_result_backend.startswith("db+sqlite:///" + str(data))
    assert settings.beat_schedule_path.parent == data


def test_generated_secret_is_stable_private_and_random(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "d")
    key = settings.secret("pseudonym_key")
    assert len(key) >= 32
    assert settings.secret("pseudonym_key") == key
    assert settings.secret("secret_key") != key
    path = tmp_path / "d" / "secrets" / "pseudonym_key"
    assert path.stat().st_mode & 0o777 == 0o600
    other = load_settings(data_dir=tmp_path / "other")
    assert other.secret("pseudonym_key") != key


def test_configured_secret_wins(tmp_path: Path) -> None:
    value = "x" * 40
    settings = load_settings(data_dir=tmp_path, pseudonym_key=value)
    assert settings.secret("pseudonym_key") == value
    assert value not in repr(settings)  # SecretStr keeps it out of logs


def test_a_generated_secret_is_one_whole_value_for_every_concurrent_caller(tmp_path: Path) -> None:
    """Twelve threads asking at once all get the same, complete key (never an empty file)."""
    import threading

    from core.config import _generated_secret

    barrier = threading.Barrier(12)
    seen: list[str] = []

    def ask() -> None:
        barrier.wait()
        seen.append(_generated_secret(tmp_path, "audit_key"))

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(seen) == 12 and len(set(seen)) == 1 and len(seen[0]) >= 40
    assert (tmp_path / "secrets" / "audit_key").read_text(encoding="utf-8") == seen[0]
    assert [p.name for p in (tmp_path / "secrets").iterdir()] == ["audit_key"]  # no scratch
