"""Threat intel as its users walk it: the admin imports a feed on /intel, its retro-hunt finds
the demo day's Tor-exit login, the analyst opens the alert and sees the indicator's context."""

from __future__ import annotations

import re

from tests.journeys.conftest import Journey
from tests.journeys.test_shift_views import AXE, _violations

# The demo world's Tor exit range (demo_world/population.py), as a sector feed.
FEED = b"type,value,confidence,tlp,techniques\ncidr,100.100.0.0/24,90,amber,T1090.003\n"


def test_admin_imports_a_feed_and_the_analyst_sees_the_hunted_alert(journey: Journey) -> None:
    admin = journey.login("admin")
    admin.goto("/intel")
    form = admin.get_by_test_id("import-form")
    form.wait_for()
    admin.set_input_files(
        "input[name=file]", files=[{"name": "tor.csv", "mimeType": "text/csv", "buffer": FEED}]
    )
    form.locator("select[name=format]").select_option("csv")
    form.locator("input[name=source]").fill("ibd-journey")
    journey.shot(admin, "admin chooses a feed file")
    form.locator("button[type=submit]").click()
    admin.get_by_test_id("import-result").wait_for()
    assert admin.get_by_test_id("count-added").inner_text() == "1"
    # The import retro-hunts the stored events: the demo day's Tor-exit login is found.
    assert int(admin.get_by_test_id("hunt-alerts").inner_text()) >= 1
    journey.shot(admin, "admin sees the import counts and the retro-hunt")
    # Hunting again finds the same past event and raises nothing twice.
    again = journey.platform.cli("intel", "hunt")
    assert re.search(r": [1-9][0-9]* matches, 0 new alerts", again), again

    analyst = journey.login("analyst")
    analyst.goto("/alerts?range=all&rule=intel-indicator-match")
    table = analyst.get_by_test_id("alert-table")
    table.wait_for()
    journey.shot(analyst, "analyst filters the queue on threat-intel matches")
    analyst.locator("tr[data-alert] a[href^='/alerts/']").first.click()
    analyst.wait_for_load_state()
    if analyst.get_by_test_id("purpose-form").count():  # the login names a resident
        analyst.fill("input[name=purpose]", "dreigingsinformatie controleren")
        analyst.get_by_test_id("purpose-form").locator("button[type=submit]").click()
    context = analyst.get_by_test_id("intel-context")
    context.wait_for()
    text = context.inner_text()
    assert "ibd-journey" in text and "AMBER" in text and "100.100.0.0/24" in text
    journey.shot(analyst, "analyst reads the indicator context of the alert")
    # The alert's rule is the built-in intel matcher: its page explains it and leads to /intel.
    analyst.locator("a[href='/rules/intel-indicator-match']").first.click()
    analyst.get_by_test_id("intel-rule-text").wait_for()
    journey.shot(analyst, "analyst reads what the intel pseudo-rule is")
    assert AXE.exists(), "axe-core missing in .cache/node (scripts/test-browser.sh)"
    assert _violations(analyst) == []
    analyst.get_by_test_id("intel-link").click()
    analyst.get_by_test_id("indicator-table").wait_for()

    analyst.goto("/intel?source=ibd-journey&state=all")
    assert "100.100.0.0/24" in analyst.get_by_test_id("indicator-table").inner_text()
    journey.shot(analyst, "analyst looks the indicator up on the intel page")
