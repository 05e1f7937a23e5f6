"""The DPO checks the processing log (Logboek Dataverwerkingen) of the demo municipality: which
activities were processed and how often with a purpose, what the register does not know, and
what chain partner WIJ did, exported as evidence; every page passes axe."""

from __future__ import annotations

from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.test_shift_views import AXE, _violations


def _clean(page: Any) -> None:
    if AXE.exists():
        assert _violations(page) == [], page.url


def test_dpo_reviews_the_processing_log_and_a_chain_partner(journey: Journey) -> None:
    page = journey.login("dpo")
    page.get_by_role("link", name="Logboek verwerkingen").click()
    page.get_by_test_id("ldv-activities").wait_for()
    journey.shot(page, "DPO sees processing per activity against the register")
    rows = page.get_by_test_id("ldv-activity-row")
    assert rows.count() >= 5
    table = page.get_by_test_id("ldv-activities").inner_text()
    assert "Wmo-aanvraag behandelen" in table and "Wmo 2015" in table
    assert "niet in register" in table  # S35: the case system's unregistered version
    assert "vervallen versie" in table  # the retired BRP activity, registered but unused
    assert "brp-bevraging" in page.get_by_test_id("ldv-streams").inner_text()
    _clean(page)

    page.get_by_role("link", name="Ketenpartners").first.click()
    page.get_by_test_id("ldv-partners").wait_for()
    _clean(page)
    page.get_by_role("link", name="WIJ Groningen").click()
    page.get_by_test_id("ldv-partner-facts").wait_for()
    journey.shot(page, "DPO opens chain partner WIJ: volume, agreed share, rule hits")
    records = int(page.get_by_test_id("ldv-partner-records").inner_text())
    assert records > 0
    share = page.get_by_test_id("ldv-partner-share").inner_text()
    assert "(100%)" not in share  # S33: one call outside the agreement
    activities = page.get_by_test_id("ldv-partner-activities").inner_text()
    assert "aanslag-gemeentelijke-belastingen" in activities and "nee" in activities
    hits = page.get_by_test_id("ldv-partner-hits").inner_text()
    assert "Chain partner processing outside the agreed activities" in hits
    _clean(page)

    with page.expect_download() as download:
        page.get_by_role("link", name="Bewijs als CSV").click()
    evidence = download.value.path().read_text(encoding="utf-8")
    assert evidence.startswith("partner,WIJ Groningen")
    assert "aanslag-gemeentelijke-belastingen/v1,1,no" in evidence
