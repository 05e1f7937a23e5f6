"""A whole shift in the browser: every role lands on its own home, the analyst narrows the queue
to the last hour, reads an alert and takes it to an incident, searches events like Discover.

Against `dijkwacht up --demo` (tests/journeys/conftest.py); screenshots of every page of every
role's navigation are saved under test-output/journeys/<test>/.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from tests.journeys.conftest import ACCOUNTS, Journey

REPO_ROOT = Path(__file__).resolve().parents[2]

HOME_BLOCKS = {
    "analyst": "home-new-alerts",
    "incident_manager": "home-approvals",
    "crisis_team": "home-exercises",
    "dpo": "home-deadlines",
    "exercise_controller": "home-exercises",
    "admin": "home-collectors",
    "auditor": "home-compliance",
}
# Local time to the second, never UTC ISO or microseconds (the one clock of issue #18).
ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}")
MICROS = re.compile(r"\d{2}:\d{2}:\d{2}\.\d{3,6}")


def test_every_role_lands_on_its_home_and_sees_all_its_pages(journey: Journey) -> None:
    anonymous = journey.visitor()
    anonymous.goto("/")
    assert anonymous.url.endswith("/awareness/index.html")
    assert "events" not in anonymous.content().lower().split("<body", 1)[-1][:2000]
    journey.shot(anonymous, "anonymous visitor lands on the public resilience pages")
    for role in ACCOUNTS:
        page = journey.login(role)
        assert urlparse(page.url).path == "/", f"{role} landed on {page.url}"
        page.get_by_test_id(HOME_BLOCKS[role]).wait_for()
        journey.shot(page, f"{role} home")
        links = page.get_by_test_id("nav").locator("a")
        targets = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
        assert len(targets) >= 2, f"{role} navigation is nearly empty: {targets}"
        for target in targets:
            if target in ("/", "/docs"):
                continue
            response = page.goto(target)
            assert response is not None
            if response.status == 404 and target in ("/exceptions",):
                continue  # added by the alert-exceptions work of another issue
            assert response.status < 400, f"{role} nav link {target} gives {response.status}"
            text = page.locator("main").inner_text()
            assert not MICROS.search(text), f"{target}: {MICROS.search(text)}"
            journey.shot(page, f"{role} {target}")
    docs = journey.visitor()
    docs.goto("/docs")
    docs.locator(".swagger-ui .info").wait_for()  # rendered from vendored assets, CSP intact
    journey.shot(docs, "API docs render offline")


def test_analyst_narrows_the_queue_reads_an_alert_and_opens_its_incident(journey: Journey) -> None:
    page = journey.login("analyst")
    page.goto("/alerts")
    page.get_by_test_id("range-picker").locator("a[data-range='1h']").click()
    page.wait_for_load_state()
    assert "range=1h" in page.url
    page.get_by_test_id("histogram").wait_for()
    journey.shot(page, "analyst narrows the queue to the last hour")
    rows = page.get_by_test_id("alert-table").locator("tbody tr[data-alert]")
    if rows.count() == 0:
        # The demo day's events lie in the past: take the hour up to its newest alert instead.
        page.goto("/alerts?range=all")
        newest = page.locator("tbody tr[data-alert] td").nth(1).inner_text().strip()
        end = datetime.strptime(newest, "%d-%m-%Y %H:%M:%S") + timedelta(minutes=1)
        start = end - timedelta(hours=1)
        picker = page.get_by_test_id("range-picker")
        picker.locator("input[name=from]").fill(start.strftime("%Y-%m-%dT%H:%M"))
        picker.locator("input[name=to]").fill(end.strftime("%Y-%m-%dT%H:%M"))
        picker.locator("button[type=submit]").click()
        page.wait_for_load_state()
        assert "range=custom" in page.url
        journey.shot(page, "analyst narrows the queue to the last hour of the demo day")
    assert rows.count() > 0, "no alerts in the chosen hour"
    rows.first.locator("a[href^='/alerts/']").click()
    page.wait_for_load_state()
    _purpose(page, journey)
    page.get_by_test_id("alert-summary").wait_for()
    fields = page.get_by_test_id("match-fields")
    assert fields.count() >= 1 and fields.first.locator("tr").count() >= 1
    journey.shot(page, "analyst reads the fields that made the alert match")
    assert page.get_by_test_id("alert-summary").locator("a[href^='/rules/']").count() == 1
    # The demo's router may already have put the alert in an incident: then the page links it.
    link = page.get_by_test_id("incident-link")
    (link if link.count() else page.get_by_test_id("triage")).first.click()
    page.wait_for_load_state()
    assert "/incidents/" in page.url
    journey.shot(page, "analyst follows the alert to its incident")


def _alert_hosts(page: Any) -> list[str]:
    """The hosts the demo day's alerts name, from the queue grouped by host."""
    page.goto("/alerts?range=all&group=host")
    links = page.get_by_test_id("alert-groups").locator("a[href*='host=']")
    hrefs = [links.nth(i).get_attribute("href") or "" for i in range(links.count())]
    hosts = [parse_qs(urlparse(href).query).get("host", [""])[0] for href in hrefs]
    return [host for host in hosts if host][:5]


def _purpose(page: Any, journey: Journey | None = None) -> None:
    """Fill the purpose form when a read of residents' data asks for it."""
    if page.get_by_test_id("purpose-form").count():
        if journey is not None:
            journey.shot(page, "the purpose of the read is asked")
        page.fill("input[name=purpose]", "onderzoek melding / investigating an alert")
        page.get_by_test_id("purpose-form").locator("button[type=submit]").click()
        page.wait_for_load_state()


def test_analyst_searches_events_like_discover(journey: Journey) -> None:
    page = journey.login("analyst")
    page.goto("/events?range=all")
    if page.get_by_test_id("purpose-form").count():  # residents in the results: asked once
        journey.shot(page, "analyst states the purpose once for the session")
        page.fill("input[name=purpose]", "onderzoek brute force web01")
        page.get_by_test_id("purpose-form").locator("button[type=submit]").click()
        page.wait_for_load_state()
        page.get_by_test_id("purpose").wait_for()  # remembered for the session from now on
    hosts = _alert_hosts(page)
    page.goto("/events?range=all")
    table = page.get_by_test_id("event-table")
    # host.name first (the search); the demo's raw fields until every parser sets it.
    tried = []
    for field in ("host.name", "host.hostname", "winlog.computer_name", "Computer"):
        for host in hosts:
            tried.append(f"{field}:{host}")
            page.fill("input[name=q]", tried[-1])
            page.fill("input[name=col]", f"{field},event.dataset")  # the analyst picks columns
            page.get_by_test_id("event-search").locator("button[type=submit]").click()
            page.wait_for_load_state()
            assert page.get_by_test_id("purpose-form").count() == 0, "purpose asked again"
            if table.locator("tbody tr.event-row").count():
                break
        if table.locator("tbody tr.event-row").count():
            break
    assert table.locator("tbody tr.event-row").count() > 0, f"nothing found for {tried}"
    journey.shot(page, f"analyst searches {tried[-1]}")
    page.get_by_test_id("filter-in").first.click()
    page.wait_for_load_state()
    assert page.input_value("input[name=q]").count(":") >= 2
    journey.shot(page, "analyst filters on a clicked value")
    page.goto("/events?range=all")
    page.get_by_test_id("pager").locator("a[rel=next]").click()
    page.wait_for_load_state()
    assert "page=2" in page.url
    assert page.get_by_test_id("event-table").locator("tbody tr.event-row").count() > 0
    journey.shot(page, "analyst reads page 2 of the events")


def test_language_switch_turns_a_page_and_an_error_into_english(journey: Journey) -> None:
    page = journey.login("analyst")
    page.goto("/alerts?range=custom&from=gisteren")
    error = page.get_by_test_id("error")
    assert "geen geldige tijd" in error.inner_text()
    journey.shot(page, "an error message in Dutch")
    page.get_by_test_id("language-switch").get_by_role("link", name="English").click()
    page.wait_for_load_state()
    assert page.locator("html[lang=en]").count() == 1
    assert "is no valid time" in page.get_by_test_id("error").inner_text()
    journey.shot(page, "the same error in English")
    page.goto("/")
    page.get_by_test_id("home-new-alerts").wait_for()
    assert "New alerts by severity" in page.locator("main").inner_text()
    journey.shot(page, "the analyst's home in English")
    # Remembered per person: another browser (no cookie) opens in English after logging in.
    elsewhere = journey.login("analyst")
    try:
        assert elsewhere.locator("html[lang=en]").count() == 1
        assert "New alerts by severity" in elsewhere.locator("main").inner_text()
        journey.shot(elsewhere, "another browser: the analyst's language came along")
    finally:  # the other journeys read the analyst's pages in Dutch
        elsewhere.goto("/language/nl?next=/")
    assert journey.login("analyst").locator("html[lang=nl]").count() == 1


AXE = REPO_ROOT / ".cache" / "node" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
# Not pages: JSON, files, feeds, redirects and the public awareness site (tests/awareness).
NOT_PAGES = ("/api/", "/awareness/", "/metrics", "/health", "/livez", "/readyz", "/language/")
DOWNLOADS = (".csv", ".pdf", ".json", ".zip")  # exports: files, not pages
# Known violations, by page: empty, and meant to stay so. /docs (Swagger UI) was the last entry;
# dashboard/static/swagger-init.js and dijkwacht-docs.css now fix its headings, landmarks,
# nested links and contrast.
KNOWN: dict[str, set[str]] = {}


def _page_routes() -> list[str]:
    """Every GET route of the app without path parameters: a new page is covered by default."""
    from core.config import get_settings
    from dashboard.app import create_app
    from tests.dashboard.test_authz_matrix import app_routes

    return sorted(
        {
            path
            for method, path, _ in app_routes(create_app(get_settings()))
            if method == "GET"
            and "{" not in path
            and not path.startswith(NOT_PAGES)
            and not path.endswith(DOWNLOADS)
        }
        - {"/openapi.json"}
    )


def _violations(page: Any) -> list[str]:
    # evaluate runs over the DevTools protocol, so the page's CSP (no inline script) stays on.
    page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: {type: 'tag', values: tags}}))"
        ".violations.map(v => v.id + ': ' + v.nodes.slice(0, 3).map(n => n.target).join(' | '))",
        AXE_TAGS,
    )
    return list(found)


def test_axe_finds_no_violations_on_any_page_of_any_role(journey: Journey) -> None:
    assert AXE.exists(), "axe-core missing in .cache/node (scripts/test-browser.sh)"
    routes = _page_routes()
    assert "/alerts" in routes and "/events" in routes and "/" in routes
    failing: dict[str, list[str]] = {}
    checked = 0
    visitors = [("anonymous", journey.visitor())]
    visitors += [(role, journey.login(role)) for role in ACCOUNTS]
    for who, page in visitors:
        extra = []
        if who == "analyst":
            page.goto("/alerts?range=all")
            first = page.locator("tr[data-alert] a[href^='/alerts/']").first
            extra = [first.get_attribute("href") or ""] if first.count() else []
        for path in [*routes, *extra]:
            response = page.goto(path)
            if response is None or response.status != 200:
                continue  # not this role's page (403), or a redirect to the login form
            if "text/html" not in (response.headers.get("content-type") or ""):
                continue
            _purpose(page)
            if path == "/docs":  # Swagger UI renders its landmark and title after the spec loads
                page.locator("#operations").wait_for()
            checked += 1
            known = KNOWN.get(path, set())
            problems = [p for p in _violations(page) if p.split(":")[0] not in known]
            if problems:
                failing[f"{who} {path}"] = problems
    assert checked >= 30, f"only {checked} pages checked"
    report = journey.out / "axe-violations.json"
    report.write_text(json.dumps(failing, indent=1), encoding="utf-8")
    assert not failing, json.dumps(failing, indent=1)
