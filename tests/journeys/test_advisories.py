"""The admin keeps the inventory and reads NCSC advisories against it; the analyst follows up.

Against `up --demo`: the admin uploads the inventory (CSV) and a CSAF 2.0 advisory on the
pages; the advisory hits an internet-facing item, so an incident opens, listing the item and
its owner. The incident manager accepts the risk of a second, low advisory. The admin adds a
log source that must be sending and never does: beat's check marks it and raises an alert, and
the collectors page shows it red. Every page passes axe with data on it.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.advisories.samples import csaf_advisory, inventory_csv
from tests.journeys.conftest import Journey
from tests.journeys.test_shift_views import AXE, _violations

GATEWAY = {
    "vendor": "Example", "product": "Gateway", "version": "2.3.0", "owner": "team-netwerk",
    "exposure": "internet", "cpe": "cpe:2.3:a:example:gateway:2.3.0:*:*:*:*:*:*:*",
}  # fmt: skip
PORTAL = {
    "vendor": "Other", "product": "Portal", "version": "1.0", "owner": "team-web",
    "exposure": "internal", "cpe": "cpe:2.3:a:other:portal:1.0:*:*:*:*:*:*:*",
}  # fmt: skip


def _axe_clean(page: Any) -> None:
    assert AXE.exists(), "axe-core missing in .cache/node (scripts/test-browser.sh)"
    assert _violations(page) == []


def test_admin_reads_advisories_against_the_inventory(journey: Journey, tmp_path: Path) -> None:
    admin = journey.login("admin")
    admin.goto("/inventory")
    csv_file = tmp_path / "inventaris.csv"
    csv_file.write_text(inventory_csv([GATEWAY, PORTAL]), encoding="utf-8")
    form = admin.get_by_test_id("inventory-import")
    form.locator("input[type=file]").set_input_files(str(csv_file))
    form.locator("button[type=submit]").click()
    admin.get_by_test_id("import-summary").wait_for()
    assert "2 toegevoegd" in admin.get_by_test_id("import-summary").inner_text()
    journey.shot(admin, "admin imported the inventory from CSV")

    admin.goto("/advisories")
    for name, doc in (
        ("ncsc-high.json", csaf_advisory(tracking_id="NCSC-2026-0900")),
        ("ncsc-low.json", csaf_advisory(tracking_id="NCSC-2026-0901", severity="Low",
                                        cve="CVE-2026-90101")),
    ):  # fmt: skip
        path = tmp_path / name
        path.write_text(json.dumps(doc), encoding="utf-8")
        form = admin.get_by_test_id("advisory-import")
        form.locator("input[type=file]").set_input_files(str(path))
        form.locator("button[type=submit]").click()
        admin.get_by_test_id("import-summary").wait_for()
    rows = admin.get_by_test_id("advisory-rows").inner_text()
    assert "NCSC-2026-0900" in rows and "team-netwerk" in rows and "Portal" not in rows
    journey.shot(admin, "the advisories hit the internet-facing gateway; an incident opened")
    _axe_clean(admin)
    incident = admin.get_by_test_id("advisory-list").locator("a[href^='/incidents/']").first
    href = incident.get_attribute("href") or ""

    manager = journey.login("incident_manager")
    manager.goto(href)
    body = manager.locator("main").inner_text()
    assert "NCSC-2026-0900" in body and "owner team-netwerk" in body
    journey.shot(manager, "the incident lists the advisory, the item and its owner")
    manager.goto("/advisories")
    row = manager.get_by_test_id("advisory-rows").locator("tr", has_text="NCSC-2026-0901")
    row.locator("input[name=reason]").fill("Alleen via VPN bereikbaar tot de upgrade")
    row.locator("input[name=until]").fill("2099-01-31T12:00")
    row.locator("button[type=submit]").click()
    manager.get_by_test_id("advisory-rows").wait_for()
    rows = manager.get_by_test_id("advisory-rows")
    accepted = rows.locator("tr", has_text="NCSC-2026-0901").inner_text()
    assert "geaccepteerd door incidentmanager" in accepted
    journey.shot(manager, "the incident manager accepted the risk of the low advisory")

    admin.goto("/inventory")
    form = admin.get_by_test_id("expect-form")
    form.locator("input[name=name]").fill("exchange01")
    form.locator("input[name=max_silence_minutes]").fill("1")
    form.locator("button[type=submit]").click()
    _axe_clean(admin)
    deadline = time.monotonic() + 100
    while "ALERTED" not in journey.platform.cli("inventory", "sources"):
        assert time.monotonic() < deadline, "beat's check never alerted on exchange01"
        time.sleep(5)
    admin.goto("/collectors")
    row = admin.get_by_test_id("source-exchange01")
    assert "NOOIT ONTVANGEN" in row.inner_text()
    assert "alarm" in (row.get_attribute("class") or "")
    journey.shot(admin, "a source that never arrived is red on the collectors page")
    _axe_clean(admin)
