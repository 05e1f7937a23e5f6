"""Shift views: time ranges in the URL, the per-level histogram, rule names in the queue filter,
the home page of every role and the one clock on every page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from core.accounts.models import Role
from core.errors import ValidationError
from core.store.base import NewAlert
from core.store.factory import open_alert_store
from dashboard.services.alert_views import resolve_rules
from dashboard.services.timerange import parse_range
from tests.dashboard.conftest import Env, add_user, login

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
RULE = "b1e71eac-6557-5f48-980d-30e9dc02474e"  # "Large outbound transfer" in the library


def test_presets_and_custom_ranges() -> None:
    day = parse_range(key=None, start=None, end=None, now=NOW, zone=AMSTERDAM)
    assert day.key == "24h" and day.start == NOW - timedelta(hours=24) and day.end is None
    assert day.params == [("range", "24h")]
    assert parse_range(key="all", start=None, end=None, now=NOW, zone=AMSTERDAM).start is None
    custom = parse_range(
        key="custom", start="2026-12-07T09:00", end="2026-12-07T10:30", now=NOW, zone=AMSTERDAM
    )
    assert custom.start == datetime(2026, 12, 7, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert ("from", "2026-12-07T09:00") in custom.params


@pytest.mark.parametrize(
    ("key", "start", "end", "field"),
    [
        ("week", None, None, "range"),
        ("custom", None, None, "from"),
        ("custom", "gisteren", None, "from"),
        ("custom", "2026-12-07T10:00", "2026-12-07T09:00", "to"),
    ],
)
def test_bad_ranges_name_their_field(key: str, start: str, end: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_range(key=key, start=start, end=end, now=NOW, zone=AMSTERDAM)
    assert caught.value.field == field


def test_rule_filter_takes_names_and_ids() -> None:
    titles = {RULE: "SSH brute force", "other": "Portal login burst"}
    assert resolve_rules([RULE], lambda: pytest.fail("ids need no lookup")) == [RULE]
    assert resolve_rules(["brute"], lambda: titles) == [RULE]
    assert resolve_rules(["PORTAL LOGIN"], lambda: titles) == ["other"]
    assert resolve_rules(["no such rule"], lambda: titles) == ["no such rule"]


def _add(env: Env, *alerts: NewAlert) -> None:
    store = open_alert_store(env.settings, clock=env.clock)
    try:
        store.add_batch(list(alerts))
    finally:
        store.close()


def _alert(env: Env, age: timedelta, level: str = "high") -> NewAlert:
    when = env.clock.now() - age
    return NewAlert(
        rule_id=RULE,
        rule_title="Large outbound transfer",
        level=level,  # type: ignore[arg-type]
        created_at=when,
        host_name="web01",
        body={"event_time": when.isoformat(timespec="microseconds")},
    )


def test_queue_narrows_to_a_range_and_draws_a_histogram(env: Env) -> None:
    _add(env, _alert(env, timedelta(minutes=5)), _alert(env, timedelta(days=3), "low"))
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    hour = client.get("/alerts", params={"range": "1h"})
    assert hour.status_code == 200
    assert hour.text.count('data-alert="') == 1
    assert 'data-testid="histogram"' in hour.text and "<svg" in hour.text
    assert 'data-testid="histogram-table"' in hour.text
    week = client.get("/alerts", params={"range": "7d"})
    assert week.text.count('data-alert="') == 2
    by_name = client.get("/alerts", params={"range": "all", "rule": "outbound TRANSFER"})
    assert by_name.text.count('data-alert="') == 2
    assert client.get("/api/alerts", params={"rule": "no such rule"}).json()["total"] == 0
    bad = client.get("/alerts", params={"range": "custom", "from": "gisteren"})
    assert bad.status_code == 400 and "from" in bad.text


TIME = re.compile(r"\b\d{2}-\d{2}-\d{4} \d{2}:\d{2}(:\d{2})?(\.\d+)?")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?")


@pytest.mark.parametrize("role", list(Role))
def test_every_role_has_a_home_in_one_clock(env: Env, role: Role) -> None:
    _add(env, _alert(env, timedelta(minutes=5)))
    add_user(env, "someone", role)
    client = env.client()
    anonymous = client.get("/", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/awareness/index.html"
    login(client, "someone")
    home = client.get("/")
    assert home.status_code == 200 and 'data-testid="home-title"' in home.text
    for match in TIME.finditer(home.text):
        assert match.group(1) and not match.group(2), match.group(0)  # to the second, no µs
    assert not ISO.search(home.text), ISO.search(home.text)
    pages = {"/alerts", "/collectors"} if role in (Role.ANALYST, Role.INCIDENT_MANAGER) else set()
    for path in pages:
        text = client.get(path).text
        assert not ISO.search(text), (path, ISO.search(text))
        assert all(m.group(1) and not m.group(2) for m in TIME.finditer(text)), path


def _events(env: Env, count: int) -> None:
    from core.events import new_event
    from core.store.factory import open_event_store

    store = open_event_store(env.settings)
    try:
        store.add_batch(
            [
                new_event(
                    timestamp=env.clock.now() - timedelta(minutes=i + 1),
                    dataset="system.auth",
                    original=f'{{"msg": "Failed password for admin from 10.0.0.{i}"}}',
                    fields={
                        "host.name": "web01" if i % 2 else "db01",
                        "source.ip": f"10.0.0.{i}",
                        "event.created": "2026-11-28T08:59:59.123Z",
                    },
                )
                for i in range(count)
            ]
        )
    finally:
        store.close()


def test_event_search_filters_on_fields_pages_and_remembers_the_purpose(env: Env) -> None:
    _events(env, 120)
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    page = client.get("/events", params={"q": "host.name:web01"})
    assert page.status_code == 200
    assert page.text.count('class="event-row"') == 50
    assert "60 events" in page.text and 'rel="next"' in page.text
    assert 'data-testid="filter-in"' in page.text and "<svg" in page.text
    assert "<code>source.ip</code>" in page.text  # default columns for system.auth
    assert "28-11-2026 09:59:59" in page.text and not ISO.search(page.text)  # one clock
    assert "&#34;msg&#34;: &#34;Failed password" in page.text  # event.original, pretty-printed
    second = client.get("/events", params={"q": "host.name:web01", "page": 2})
    assert second.text.count('class="event-row"') == 10
    out = client.get("/events", params={"q": "-host.name:web01 -source.ip:10.0.0.0"})
    assert "59 events" in out.text
    in_range = client.get("/events", params={"range": "15m"})
    assert "15 events" in in_range.text  # 1..15 minutes old; the start is inclusive
    remembered = client.get("/events", params={"purpose": "onderzoek inbraak web01"})
    assert remembered.cookies.get("dijkwacht_purpose") or "dijkwacht_purpose" in str(
        remembered.headers.get("set-cookie")
    )
    assert "onderzoek inbraak web01" in client.get("/events").text
    bad = client.get("/events", params={"q": "bad..field:x"})
    assert bad.status_code == 400 and "q" in bad.text


def test_api_docs_work_offline_under_the_same_csp(env: Env) -> None:
    client = env.client()
    docs = client.get("/docs")
    assert docs.status_code == 200
    assert docs.headers["content-security-policy"].startswith("default-src 'self'")
    assert "script-src 'self';" in docs.headers["content-security-policy"]
    assert "<script>" not in docs.text and "cdn" not in docs.text.lower()
    for asset in re.findall(r'(?:src|href)="(/static/[^"]+)"', docs.text):
        assert client.get(asset).status_code == 200, asset
    assert client.get("/redoc").status_code == 404  # gone: it also needed a CDN


def test_language_switch_turns_pages_and_errors_into_english(env: Env) -> None:
    add_user(env, "ana", Role.ANALYST)
    client = env.client()
    login(client, "ana")
    dutch = client.get("/alerts", params={"range": "custom", "from": "<b>gisteren</b>"})
    assert dutch.status_code == 400 and '<html lang="nl">' in dutch.text
    assert "Ongeldige invoer" in dutch.text and "is geen geldige tijd" in dutch.text
    assert "<b>gisteren" not in dutch.text  # input is never markup
    switched = client.get("/language/en", params={"next": "/"}, follow_redirects=False)
    assert switched.status_code == 303 and switched.headers["location"] == "/"
    home = client.get("/")
    assert '<html lang="en">' in home.text and "New alerts by severity" in home.text
    english = client.get("/alerts", params={"range": "custom", "from": "gisteren"})
    assert "Invalid input" in english.text and "is no valid time" in english.text
    assert client.get("/language/de").status_code == 404
    away = client.get("/language/en", params={"next": "//evil.example"}, follow_redirects=False)
    assert away.headers["location"] == "/"  # no open redirect


def test_every_template_text_has_a_dutch_translation() -> None:
    from babel.messages.pofile import read_po

    from dashboard.i18n import LOCALE_DIR

    templates = LOCALE_DIR.parent / "templates"
    used = {
        text
        for path in templates.rglob("*.html")
        for text in re.findall(r"""_\(\s*"([^"]+)"|_\(\s*'([^']+)'""", path.read_text())
        for text in text
        if text
    }
    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        dutch = {m.id: m.string for m in read_po(po) if m.id}
    missing = sorted(t for t in used if not dutch.get(t))
    assert not missing, f"add to dashboard/locale/nl/LC_MESSAGES/messages.po: {missing}"


def test_the_language_is_remembered_per_user_and_anonymous_visitors_get_a_cookie(
    env: Env,
) -> None:
    from core.accounts.models import User

    add_user(env, "ana", Role.ANALYST)
    anonymous = env.client()
    anonymous.get("/language/en", params={"next": "/"})
    assert anonymous.cookies.get("dijkwacht_lang") == "en"
    assert env.db.scalar(select(User.language).where(User.username == "ana")) is None
    laptop = env.client()
    login(laptop, "ana")
    assert '<html lang="nl">' in laptop.get("/alerts").text  # nothing chosen yet: Dutch
    laptop.get("/language/en", params={"next": "/alerts"})
    env.db.rollback()  # a fresh read, after the request's commit
    assert env.db.scalar(select(User.language).where(User.username == "ana")) == "en"
    # Another browser without the cookie: logging in brings the person's language along.
    desktop = env.client()
    login(desktop, "ana")
    page = desktop.get("/alerts")
    assert '<html lang="en">' in page.text and "Alerts per level" in page.text
    desktop.get("/language/nl", params={"next": "/"})
    env.db.rollback()  # a fresh read, after the request's commit
    assert env.db.scalar(select(User.language).where(User.username == "ana")) == "nl"
