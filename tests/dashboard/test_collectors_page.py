"""The collectors page and API show the dead letters of every path, per source."""

from __future__ import annotations

from core.accounts.models import Role
from core.store.base import DeadLetter
from core.store.factory import open_event_store
from tests.dashboard.conftest import Env, add_user, login


def test_dead_letters_per_source_on_the_page_and_api(env: Env) -> None:
    store = open_event_store(env.settings)
    try:
        store.add_dead_letters(
            [DeadLetter(source="/var/log/auth.log", reason="r", raw=b"x")] * 3
            + [DeadLetter(source="udp://192.0.2.5:514", reason="r", raw=b"<y")]
        )
    finally:
        store.close()
    add_user(env, "beheer", Role.ADMIN)
    client = env.client()
    login(client, "beheer")
    api = client.get("/api/collectors").json()
    assert api["dead_letters_total"] == 4
    assert [(d["source"], d["count"]) for d in api["dead_letter_sources"]] == [
        ("/var/log/auth.log", 3),
        ("udp://192.0.2.5:514", 1),
    ]
    page = client.get("/collectors")
    assert page.status_code == 200
    assert 'data-testid="dead-letters-total">4<' in page.text
    assert "/var/log/auth.log" in page.text and "dijkwacht deadletters list" in page.text


def test_no_dead_letters_says_zero(env: Env) -> None:
    add_user(env, "analist", Role.ANALYST)
    client = env.client()
    login(client, "analist")
    page = client.get("/collectors")
    assert 'data-testid="dead-letters-total">0<' in page.text
    assert "dead-letter-table" not in page.text
