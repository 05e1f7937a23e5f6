"""An app on a fresh, migrated database, with one logged-in browser client per role."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from core.accounts import create_user
from core.accounts.models import Role
from core.clock import FrozenClock
from core.config import Settings
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dashboard.app import create_app

PASSWORD = "correct horse battery staple"
# Local plain http: the session cookie is not Secure there, so the test client sends it back.
BASE_URL = "http://127.0.0.1"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Env:
    settings: Settings
    app: object
    clock: FrozenClock
    db: Session  # for reads; write through `env.write()` (a committed unit of work)
    sessions: sessionmaker[Session]

    def write(self) -> AbstractContextManager[Session]:
        """A write unit on the test database, committed when the block ends."""
        return unit_of_work(self.sessions)

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=BASE_URL, follow_redirects=False)  # type: ignore[arg-type]


@pytest.fixture
def env(settings: Settings) -> Iterator[Env]:
    migrate(settings)
    app = create_app(settings)
    clock = FrozenClock(datetime(2026, 11, 28, 9, 0, tzinfo=UTC))
    app.state.clock = clock
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    with sessions() as db:
        yield Env(settings, app, clock, db, sessions)
    engine.dispose()


def add_user(env: Env, username: str, role: Role | str, display_name: str | None = None) -> None:
    with env.write() as db:
        create_user(
            db=db,
            username=username,
            password=PASSWORD,
            role=role,
            display_name=display_name,
            clock=env.clock,
        )


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no csrf_token field in the page"
    return match.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the real form; returns the session's CSRF token."""
    page = client.get("/login")
    assert page.status_code == 200
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/login").text)


def role_user(role: Role) -> str:
    return f"user-{role.value.replace('_', '-')}"
