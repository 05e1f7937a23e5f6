"""Fixtures every test package shares: isolated settings and a clean data directory per test."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings, get_settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository with a copy of shared/ beside it; developers have the same layout.
# The shared reference data and corpus sit beside the repository; DIJKWACHT_SHARED_DIR points
# elsewhere (a clone in another folder). Read once, at import, before any test clears the
# DIJKWACHT_* environment.
SHARED_DIR = Path(os.environ.get("DIJKWACHT_SHARED_DIR") or REPO_ROOT.parent / "shared")
CORPUS_DIR = SHARED_DIR / "corpus"
FREE_PORT_SETTINGS = {
    "DIJKWACHT_RELP_PORT": "0",
    "DIJKWACHT_RELP_TLS_PORT": "0",
    "DIJKWACHT_INGEST_HTTP_PORT": "0",
}


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's DIJKWACHT_* variables, TOML file or cached settings."""
    import os

    for name in list(os.environ):
        if name.startswith("DIJKWACHT_"):
            monkeypatch.delenv(name)
    # Listeners with fixed default ports (RELP 2514/2515, HTTP ingest 8001) would collide between
    # tests and with a running platform; 0 lets each collector take a free port.
    for name, value in FREE_PORT_SETTINGS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    threshold = gc.get_threshold()
    yield
    get_settings.cache_clear()
    # Commands run in-process (CliRunner) may tune the collector for a long run
    # (core.gc_tuning); the test session itself keeps CPython's defaults.
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data directory under the test's tmp_path."""
    return load_settings(environment="test", data_dir=tmp_path / "data")


# -- real servers for the scale-out tests (tests/services.py says where they come from) ---------


@pytest.fixture(scope="session")
def service_urls() -> dict[str, str]:
    """Read once, before any test's environment is cleared of DIJKWACHT_* variables."""
    from tests.services import read_service_urls

    return read_service_urls()


@pytest.fixture(scope="session")
def es_url(service_urls: dict[str, str]) -> str:
    from tests.services import require

    return require(service_urls, "elasticsearch")


@pytest.fixture(scope="session")
def pg_url(service_urls: dict[str, str]) -> str:
    from tests.services import require

    return require(service_urls, "postgresql")


@pytest.fixture(scope="session")
def redis_url(service_urls: dict[str, str]) -> str:
    from tests.services import require

    return require(service_urls, "redis")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """Settings for the relational suites, once per backend; PostgreSQL gets a fresh schema."""
    if request.param == "sqlite":
        yield load_settings(environment="test", data_dir=tmp_path / "data")
        return
    from tests.services import postgres_schema

    base = request.getfixturevalue("pg_url")
    with postgres_schema(base) as url:
        yield load_settings(environment="test", data_dir=tmp_path / "data", database_url=url)
