"""The first look at a running platform: a resident reads tips, an analyst finds the demo's alerts.

A smoke journey for the journey machinery itself (platform, browser, accounts, screenshots); the
role journeys (case work, shift views, the DPO, exercises) build on the same fixtures.
"""

from __future__ import annotations

from tests.journeys.conftest import Journey


def test_resident_reads_resilience_tips_without_logging_in(journey: Journey) -> None:
    page = journey.visitor()
    page.goto("/awareness/index.html")
    journey.shot(page, "resident opens the resilience tips")
    page.get_by_role("link", name="Bibliotheekbezoekers en senioren").click()
    page.wait_for_load_state()
    journey.shot(page, "resident reads a page in Dutch")
    assert page.locator("html[lang=nl]").count() == 1


def test_analyst_opens_an_alert_from_the_demo_day(journey: Journey) -> None:
    page = journey.login("analyst")
    page.goto("/alerts")
    table = page.get_by_test_id("alert-table")
    table.wait_for()
    journey.shot(page, "analyst sees the alert queue")
    rows = table.locator("tbody tr")
    assert rows.count() > 0, "the demo day raised no alerts"
    rows.first.locator("a").first.click()
    page.wait_for_load_state()
    if page.get_by_test_id("purpose-form").count():  # the alert names a resident
        page.fill("input[name=purpose]", "eerste blik op de demodag")
        page.get_by_test_id("purpose-form").locator("button[type=submit]").click()
    page.get_by_test_id("alert-body").wait_for()
    journey.shot(page, "analyst opens the first alert")
    assert page.get_by_test_id("matched-events").count() == 1
