"""Fixtures every test package shares: isolated settings and a clean data directory per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.config import Settings, get_settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository with a copy of shared/ beside it; developers have the same layout.
SHARED_DIR = REPO_ROOT.parent / "shared"
CORPUS_DIR = SHARED_DIR / "corpus"


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test sees the developer's DIJKWACHT_* variables, TOML file or cached settings."""
    import os

    for name in list(os.environ):
        if name.startswith("DIJKWACHT_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings on a fresh data directory under the test's tmp_path."""
    return load_settings(environment="test", data_dir=tmp_path / "data")
