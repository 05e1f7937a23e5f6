"""docker-compose.yml: valid for Debian's docker-compose, healthy services, no secrets inside.

There is no Docker engine here; `docker-compose config` validates and resolves the file
without one (scripts/test-services.sh installs the Debian package).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
COMPOSE = REPO_ROOT / "docker-compose.yml"
SECRETS = {
    "POSTGRES_PASSWORD": "dummy-pg-password",
    "DIJKWACHT_SECRET_KEY": "dummy-secret-key-" + "x" * 32,
    "DIJKWACHT_PSEUDONYM_KEY": "dummy-pseudonym-key-" + "y" * 32,
}


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
            pytest.fail("docker-compose missing: scripts/test-services.sh installs it")
        pytest.skip("docker-compose (Debian package) is not installed")
    return subprocess.run(
        [binary, "-f", str(COMPOSE), *args],
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO_ROOT,
    )


def test_compose_file_is_valid_with_secrets_from_the_environment() -> None:
    result = _compose("config", "--quiet", env=SECRETS)
    assert result.returncode == 0, result.stderr


def test_missing_secrets_are_refused_by_name() -> None:
    result = _compose("config", "--quiet", env={})
    assert result.returncode != 0
    assert "POSTGRES_PASSWORD" in result.stderr


def _resolved() -> dict[str, Any]:
    result = _compose("config", env=SECRETS)
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded


def test_services_have_health_checks_volumes_and_settings_from_the_environment() -> None:
    config = _resolved()
    services = config["services"]
    expected = {"elasticsearch", "redis", "postgres", "migrate", "api", "collector", "worker"}
    assert expected | {"beat"} <= set(services)
    for name in ("elasticsearch", "redis", "postgres", "api", "worker"):
        assert "healthcheck" in services[name], name
    for name in ("elasticsearch", "redis", "postgres", "api", "worker", "beat"):
        assert services[name].get("volumes"), name
    for name in ("api", "collector", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DIJKWACHT_EVENT_STORE"] == "elasticsearch"
        assert env["DIJKWACHT_BROKER_URL"].startswith("redis://")
        assert env["DIJKWACHT_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["DIJKWACHT_SECRET_KEY"] == SECRETS["DIJKWACHT_SECRET_KEY"]
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"
        assert depends["elasticsearch"]["condition"] == "service_healthy"


def test_no_secret_values_in_the_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    for value in SECRETS.values():
        assert value not in text
    raw = yaml.safe_load(text)
    env = raw["x-dijkwacht"]["environment"]
    for name in ("DIJKWACHT_SECRET_KEY", "DIJKWACHT_PSEUDONYM_KEY"):
        assert env[name].startswith("${") and ":?" in env[name]


def test_the_image_copies_every_package() -> None:
    """`pip install .` in the Dockerfile installs only what was copied: a package left out (a new
    domain) is missing from the image and every process that imports it fails at start."""
    copied = {
        line.split()[1]
        for line in (REPO_ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines()
        if line.startswith("COPY ")
    }
    packages = {
        path.name
        for path in REPO_ROOT.iterdir()
        if (path / "__init__.py").is_file() and path.name not in {"tests", "bench"}
    }
    assert packages - copied == set()
