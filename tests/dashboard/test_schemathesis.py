"""schemathesis against the app's own OpenAPI description: no operation answers 5xx.

Two callers: an analyst's API token with every read and write scope an analyst may hold, and
an anonymous caller. Examples per operation are few so the run fits CI; what it hunts is a
crash on odd input, not coverage of every branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from core.accounts import create_user
from core.accounts.models import Role
from core.accounts.tokens import create_token
from core.clock import FrozenClock
from core.config import load_settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dashboard.app import create_app

PASSWORD = "schema horse battery staple"


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, str]]:
    """One app on a migrated data dir (module-wide: schemathesis reuses it per example)."""
    data: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    app_settings = load_settings(environment="test", data_dir=data)
    migrate(app_settings)
    clock = FrozenClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    engine = create_db_engine(app_settings)
    with unit_of_work(create_session_factory(engine)) as db:
        create_user(db=db, username="fuzz", password=PASSWORD, role=Role.ANALYST, clock=clock)
        issued = create_token(
            db=db,
            username="fuzz",
            name="schemathesis",
            scopes=["read:alerts", "write:alerts", "read:events"],
            clock=clock,
            actor="test",
        )
    engine.dispose()
    app = create_app(app_settings)
    yield app, issued.token


BOUNDED = settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def _server_errors(app: object, headers: dict[str, str]) -> list[str]:
    """Every operation, a few generated cases each; the 5xx answers found, described.

    Drives schemathesis without its pytest plugin (which does not run on this pytest): each
    operation's strategy is run by Hypothesis directly.
    """
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()  # type: ignore[union-attr]  # an invalid schema raises here

        @given(case=operation.as_strategy())
        @BOUNDED
        def run(case: schemathesis.Case) -> None:
            response = case.call(headers=headers)
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path}: {response.status_code}")

        run()
    return failures


def test_no_server_error_with_token(api: tuple[object, str]) -> None:
    assert _server_errors(api[0], {"Authorization": f"Bearer {api[1]}"}) == []


def test_no_server_error_anonymous(api: tuple[object, str]) -> None:
    assert _server_errors(api[0], {}) == []
