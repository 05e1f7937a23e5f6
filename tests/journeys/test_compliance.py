"""The auditor checks BIO2 in the browser, against `dijkwacht up --demo`.

The demo has played no exercise, so continuity (5.30.01) is red once the compliance check has
run (the beat task does it hourly; here `dijkwacht compliance check`, as an operator would).
The auditor logs in, lands on the home with the red measures, opens the BIO2 page, follows a
red measure to its evidence and downloads the evidence package, which verifies against the
platform's own key. Each page passes axe; every read is on the audit record.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from compliance.service import verify_package
from tests.journeys.conftest import Journey
from tests.journeys.test_shift_views import AXE, _violations


def _platform_key(journey: Journey) -> str:
    """The platform's public key, from its own secret (not from the package being checked)."""
    from core.config import load_settings
    from core.signed_zip import public_key_hex

    return public_key_hex(load_settings(data_dir=journey.platform.data_dir))


def test_auditor_follows_a_red_measure_to_its_evidence_and_downloads_the_package(
    journey: Journey,
) -> None:
    checked = journey.platform.cli("compliance", "check", "--as", "beheerder")
    assert "5.30.01\tnot_met" in checked, checked

    page = journey.login("auditor")
    assert page.get_by_test_id("home-compliance").count() == 1
    journey.shot(page, "auditor home lists the BIO2 measures, red first")
    nav = page.get_by_test_id("nav")
    assert nav.locator("a[href='/alerts']").count() == 0  # read-only: no operations pages
    nav.locator("a[href='/compliance/bio2']").click()
    page.get_by_test_id("measure-table").wait_for()
    journey.shot(page, "auditor opens the BIO2 page with a status per measure")
    assert AXE.exists() and _violations(page) == []

    red = page.locator("tr[data-testid=measure-row][data-status=not_met]")
    assert red.count() >= 1
    continuity = page.locator("tr[data-testid=measure-row]", has_text="5.30.01")
    assert continuity.get_attribute("data-status") == "not_met"
    continuity.locator("a").first.click()
    page.get_by_test_id("measure-facts").wait_for()
    assert "5.30.01" in page.get_by_test_id("measure-title").inner_text()
    assert page.get_by_test_id("measure-status").inner_text() == "niet voldaan"
    reason = page.get_by_test_id("measure-reason").inner_text()
    assert "geen continuïteitsoefening gehouden in de laatste 365 dagen" in reason
    assert "ENSIA BIO 5.30" in page.get_by_test_id("measure-facts").inner_text()
    journey.shot(page, "the red measure says what was checked, when, by what and why it is red")
    assert _violations(page) == []

    # A measure with evidence: the audit chain verification the check ran is listed, hashed.
    page.goto("/compliance/bio2/measures/8.16.04")
    rows = page.get_by_test_id("evidence-row")
    assert rows.count() >= 1 and len(rows.first.locator("td.hash").inner_text()) == 64
    page.go_back()

    # Two PDFs are laid out for the package: give a loaded machine time for them.
    with page.expect_download(timeout=120_000) as download:
        page.get_by_test_id("package-link").click()
    package = Path(download.value.path()).read_bytes()
    assert verify_package(package, public_key=_platform_key(journey)) == []
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
    assert {"MANIFEST.sha256", "MANIFEST.sha256.sig", "PUBLIC_KEY.txt"} <= names
    assert any(name.endswith("-nl.pdf") for name in names)
    assert any(name.startswith("evidence/8.16.04/") for name in names)
    journey.shot(page, "the evidence package is downloaded and its signed manifest verifies")

    # The demo keeps writing to the audit log meanwhile: look far enough back.
    listed = journey.platform.cli("audit", "list", "--limit", "2000")
    assert listed.count("auditor") >= 5  # home, BIO2 page, two measures, the package
