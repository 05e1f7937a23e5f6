"""Shared fixtures: the shipped content library and one built site in a temp folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from awareness.loader import Library, load_library
from awareness.service import build_jobs, write_job
from tests.dashboard.conftest import env  # noqa: F401 - the dashboard app fixture, for test_views


@pytest.fixture(scope="session")
def library() -> Library:
    return load_library()


@pytest.fixture(scope="session")
def web_site(library: Library, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every web page (both languages, all audiences) as `dijkwacht awareness build` writes it."""
    output = tmp_path_factory.mktemp("site")
    jobs = build_jobs(
        library=library, audiences=["all"], langs=["nl", "en"], formats=["html", "lesson"]
    )
    for job in jobs:
        write_job(job, output=output)
    return output
