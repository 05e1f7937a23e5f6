"""Where the real test servers are: Elasticsearch, PostgreSQL and Redis on 127.0.0.1.

`scripts/test-services.sh` (run by `./dev test`) starts them and writes
`.cache/test-services.env`; variables in the environment win over the file. A test that needs a
server skips when its variable is absent (a developer machine without services), except under
CI (`CI=true`), where a missing server is an error: CI must never pass by skipping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = REPO_ROOT / ".cache" / "test-services.env"
NAMES = {
    "elasticsearch": "DIJKWACHT_TEST_ES_URL",
    "postgresql": "DIJKWACHT_TEST_PG_URL",
    "redis": "DIJKWACHT_TEST_REDIS_URL",
}


def read_service_urls() -> dict[str, str]:
    """Service name -> URL from the env file, overridden by the process environment."""
    found: dict[str, str] = {}
    if ENV_FILE.is_file():
        for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
            key, sep, value = line.strip().partition("=")
            if sep and not key.startswith("#"):
                found[key] = value
    found.update({key: os.environ[key] for key in NAMES.values() if os.environ.get(key)})
    return {service: found[key] for service, key in NAMES.items() if found.get(key)}


def require(urls: dict[str, str], service: str) -> str:
    """The URL of `service`; skip without it, or fail under CI, where it must be there."""
    url = urls.get(service)
    if url:
        return url
    message = (
        f"{NAMES[service]} is not set and {ENV_FILE} has no {service} entry: "
        "run scripts/test-services.sh (./dev test does)"
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI needs the real {service}: {message}", pytrace=False)
    pytest.skip(message)


def unique_name(prefix: str) -> str:
    """A lowercase name no other test uses (index prefixes, schemas, databases)."""
    return f"{prefix}{secrets.token_hex(5)}"


@contextmanager
def postgres_schema(base_url: str) -> Iterator[str]:
    """A fresh, empty schema for one test; yields a URL whose search_path is only that schema.

    Dropped afterwards with everything in it (tables, the audit trigger function), so no state
    leaks between tests; a schema is much cheaper to create than a database.
    """
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    schema = unique_name("t_")
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = make_url(base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
