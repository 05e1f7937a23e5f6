"""Pages of the dashboard as a person sees them: every GET page the app serves, a small world
with an alert and an incident to show on them, and the visible text of a rendered page. Shared
by the tests that read every page (one clock, two languages)."""

from __future__ import annotations

import re
from datetime import timedelta

from core.store.base import NewAlert
from core.store.factory import open_alert_store
from dashboard.app import create_app
from playbooks.service import (
    add_comment,
    add_evidence,
    add_task,
    create_incident,
)
from tests.dashboard.conftest import Env
from tests.dashboard.test_authz_matrix import app_routes

NOT_PAGES = ("/api/", "/awareness/", "/metrics", "/health", "/livez", "/readyz", "/language/")
NOT_PAGE_ENDINGS = (".csv", ".json", ".pdf", ".zip", ".xml", ".txt")


def visible_text(html: str) -> str:
    """The text a person reads: no scripts, styles or attribute values (datetime-local inputs
    and <time datetime> attributes carry machine times on purpose), and no raw records (`<pre
    class="json">`: an alert's stored body, `event.original` as the source wrote it, rule
    YAML), which are shown as they are, whatever zone their sender used."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", " ", html)
    html = re.sub(r'(?is)<pre class="json[^"]*"[^>]*>.*?</pre>', " ", html)
    return re.sub(r"<[^>]+>", " ", html)


def a_world(env: Env) -> tuple[str, int]:
    """An alert and an incident whose times carry microseconds; the incident has a comment,
    evidence and a task (every list on its page shows a time)."""
    now = env.clock.now().replace(microsecond=123456)
    store = open_alert_store(env.settings)
    try:
        (alert_id,) = store.add_batch(
            [
                NewAlert(
                    created_at=now - timedelta(minutes=3),
                    rule_id="dijkwacht-portal-bruteforce",
                    rule_title="Brute force",
                    level="high",
                    host_name="web01",
                    body={"event_time": (now - timedelta(minutes=5)).isoformat()},
                )
            ]
        )
    finally:
        store.close()
    with env.write() as db:
        incident = create_incident(
            db=db, clock=env.clock, title="Brute force op web01", severity="high", actor="ana"
        )
        add_comment(db=db, clock=env.clock, incident_id=incident.id, body="Gezien", actor="ana")
        add_task(db=db, clock=env.clock, incident_id=incident.id, title="Logs", actor="ana")
        add_evidence(
            db=db,
            clock=env.clock,
            settings=env.settings,
            incident_id=incident.id,
            filename="auth.log",
            content=b"Failed password for root\n",
            actor="ana",
        )
    return alert_id, incident.id


def page_paths(env: Env) -> list[str]:
    return sorted(
        {
            path
            for method, path, _ in app_routes(create_app(env.settings))
            if method == "GET"
            and "{" not in path
            and not path.startswith(NOT_PAGES)
            and not path.endswith(NOT_PAGE_ENDINGS)
        }
        - {"/openapi.json", "/docs"}
    )
