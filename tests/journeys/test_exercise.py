"""The exercise journey: the controller plans the technical ransomware drill for now, players play.

Against `dijkwacht up --demo`: beat releases the first inject and its synthetic `.locked`
renames go through the real collector spool and detection; the analyst (playing IT) sees the
inject live, finds the exercise alert marked OEFENING and triages it; the crisis-team member
(playing CISO) sees the next inject arrive without reloading and records a decision against it
(a missing role is asked for, the typed text kept); the controller stops and the report shows
the detection expectation met in time, in Dutch and in a full English version; a lesson's
follow-up action waits on its owner's home page until done. A second journey changes a
planned exercise before it starts.
"""

from __future__ import annotations

import re
import time
from typing import Any

from tests.journeys.conftest import Journey
from tests.journeys.test_shift_views import _violations

RULE = "b19c5e86-81df-56a4-91cb-80ce24589421"  # ransomware_rename_burst
MAILBOX = "oefening@gemeente.test"
WAIT_MS = 90_000


def _reload_until(page: Any, check: Any, *, seconds: float = 90.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"timed out on {page.url}"
        time.sleep(2)
        page.reload()


def _arrives(journey: Journey, page: Any, text: str, exercise_id: str) -> None:
    """Wait for an inject to appear on the live page (no reload); say why if it never does."""
    target = page.get_by_test_id("injects").get_by_text(text)
    try:
        target.wait_for(timeout=WAIT_MS)
    except Exception as exc:
        status = journey.platform.cli("drills", "status", exercise_id, check=False)
        log = journey.platform.log.read_text(errors="replace")
        (journey.out / "up.log").write_text(log)
        raise AssertionError(f"{text!r} never arrived:\n{status}\n{log[-4000:]}") from exc


def test_controller_plans_the_ransomware_drill_and_the_team_plays_it(journey: Journey) -> None:
    lead = journey.login("exercise_controller")
    lead.goto("/drills")
    journey.shot(lead, "controller opens the exercise calendar")
    lead.get_by_test_id("plan-link").click()
    lead.get_by_test_id("scenario-library").wait_for()
    journey.shot(lead, "controller sees the scenario library")
    lead.locator('a[href="/drills/plan?scenario=ransomware-fileservers"]').click()
    form = lead.get_by_test_id("plan-form")
    form.wait_for()
    assert "binnen 15 minuten gedetecteerd" in lead.get_by_test_id("plan-criteria").inner_text()
    form.locator('input[name="mode"][value="technical"]').check()
    form.locator('input[name="start_now"]').check()
    form.locator('input[name="name_ciso"]').fill("crisisteam")
    form.locator('input[name="email_ciso"]').fill(MAILBOX)
    form.locator('input[name="name_it"]').fill("analist")
    form.locator('input[name="email_it"]').fill(MAILBOX)
    journey.shot(lead, "controller plans the technical drill for now with CISO and IT players")
    form.get_by_role("button", name="Plannen").click()
    lead.get_by_test_id("exercise-status").wait_for()
    assert lead.get_by_test_id("exercise-status").inner_text() == "running"
    exercise_id = lead.url.rstrip("/").rsplit("/", 1)[1].split("?")[0]
    journey.shot(lead, "the exercise runs; criteria frozen")

    # The analyst plays IT: the first inject arrives live, then the exercise alert.
    analyst = journey.login("analyst")
    analyst.goto(f"/drills/{exercise_id}")
    assert "it" in analyst.get_by_test_id("own-role").inner_text()
    _arrives(journey, analyst, "Veel bestanden worden hernoemd", exercise_id)
    journey.shot(analyst, "analyst sees the first inject arrive without reloading")
    analyst.goto(f"/alerts?rule={RULE}")
    rows = analyst.get_by_test_id("alert-table").locator("tbody tr")
    _reload_until(analyst, lambda: rows.count() > 0 and "OEFENING" in rows.first.inner_text())
    journey.shot(analyst, "analyst sees the exercise alert in the queue")
    rows.first.locator("a").first.click()
    banner = analyst.locator(".exercise-banner")
    banner.wait_for()
    assert "OEFENING / EXERCISE" in banner.inner_text()
    journey.shot(analyst, "the alert is marked OEFENING / EXERCISE")
    # The router may have put it in an incident already: then the page links that incident.
    link = analyst.get_by_test_id("incident-link")
    (link if link.count() else analyst.get_by_test_id("triage")).first.click()
    analyst.wait_for_load_state()
    assert "/incidents/" in analyst.url
    journey.shot(analyst, "analyst follows the exercise alert into its incident")

    # The controller waits for the automatic check, then moves on to the next inject.
    lead.goto(f"/drills/{exercise_id}")
    expectation = lead.get_by_test_id("expectations").locator("tr", has_text="E1")
    _reload_until(lead, lambda: expectation.locator("td.met").count() > 0)  # "gehaald"
    lead.get_by_role("button", name=re.compile("Naar volgende inject")).click()
    lead.wait_for_load_state()
    journey.shot(lead, "controller sees E1 met and advances to the next inject")

    # The crisis-team member plays CISO: the servicedesk inject arrives, a decision is recorded.
    crisis = journey.login("crisis_team")
    crisis.goto(f"/drills/{exercise_id}")
    assert "ciso" in crisis.get_by_test_id("own-role").inner_text()
    _arrives(journey, crisis, "Servicedesk krijgt veel meldingen", exercise_id)
    journey.shot(crisis, "crisis-team member sees the inject for the CISO")
    entry = crisis.get_by_test_id("entry-form")
    decision = "Fileservers van het netwerk halen; GBT voorbereiden."
    entry.locator('select[name="inject"]').select_option("I2")
    entry.locator('textarea[name="text"]').fill(decision)
    entry.locator('select[name="role"]').select_option("")
    entry.evaluate("form => form.noValidate = true")
    entry.get_by_role("button", name="Vastleggen").click()
    crisis.get_by_test_id("entry-errors").wait_for()
    assert crisis.locator('textarea[name="text"]').input_value() == decision
    journey.shot(crisis, "without a role the form asks for it and keeps the text")
    entry = crisis.get_by_test_id("entry-form")
    entry.locator('select[name="role"]').select_option("ciso")
    entry.get_by_role("button", name="Vastleggen").click()
    crisis.get_by_test_id("entries").get_by_text(decision).wait_for()
    journey.shot(crisis, "the decision is recorded against inject I2")

    # The controller stops and builds the report: detection met in time.
    lead.goto(f"/drills/{exercise_id}")
    lead.get_by_role("button", name="Stop").click()
    lead.wait_for_load_state()
    assert lead.get_by_test_id("exercise-status").inner_text() == "stopped"
    journey.shot(lead, "controller stops; open windows are not evaluated")
    lead.get_by_role("button", name="Maak rapport").click()
    lead.wait_for_load_state()
    report = lead.locator("body").inner_text()
    assert "OEFENING / EXERCISE" in report and decision in report
    detection_row = lead.locator("tr", has_text="E1").first.inner_text()
    assert "gehaald" in detection_row and "binnen 15" in detection_row
    assert "Evaluatieverslag" in report and "After-action report" not in report
    journey.shot(lead, "the report shows the detection expectation met in time")
    assert not _violations(lead), _violations(lead)
    # The English version is a full translation, not Dutch with English labels.
    lead.get_by_role("link", name="English version").click()
    lead.wait_for_load_state()
    english = lead.locator("body").inner_text()
    assert "After-action report" in english and "Criteria and results" in english
    for dutch in ("Evaluatieverslag", "Criteria en resultaten", "Verwachtingen", "gehaald"):
        assert dutch not in english, dutch
    detection_row = lead.locator("tr", has_text="E1").first.inner_text()
    assert "met" in detection_row and "within 15" in detection_row
    journey.shot(lead, "the English version of the report")
    assert not _violations(lead), _violations(lead)

    # A lesson with a follow-up action for the crisis-team member, done from their home page.
    lead.goto(f"/drills/{exercise_id}")
    lesson = lead.get_by_test_id("lesson-form")
    lesson.locator('textarea[name="lesson"]').fill("De servicedesk wist niet wie te bellen.")
    lesson.locator('input[name="action"]').fill("Belboom voor ransomware opstellen")
    lesson.locator('input[name="owner"]').fill("crisisteam")
    lesson.locator('input[name="due_on"]').fill("2030-06-01")
    lesson.get_by_role("button", name="Les toevoegen").click()
    lead.wait_for_load_state()
    journey.shot(lead, "controller records a lesson with an owner and a due date")
    crisis.goto("/")
    followup = crisis.get_by_test_id("home-followups")
    followup.wait_for()
    assert "Belboom voor ransomware opstellen" in followup.inner_text()
    assert "01-06-2030" in followup.inner_text()
    journey.shot(crisis, "the follow-up action waits on its owner's home page")
    assert not _violations(crisis), _violations(crisis)
    followup.get_by_role("button", name="Afgerond").click()
    crisis.wait_for_load_state()
    assert crisis.get_by_test_id("home-followups").count() == 0
    journey.shot(crisis, "the owner marks the action done; it leaves the home page")


def test_controller_changes_a_planned_exercise_before_it_starts(journey: Journey) -> None:
    lead = journey.login("exercise_controller")
    lead.goto("/drills/plan?scenario=digid-storing")
    form = lead.get_by_test_id("plan-form")
    form.locator('input[name="date"]').fill("2030-03-04")
    form.locator('input[name="time"]').fill("09:30")
    form.locator('input[name="name_ciso"]').fill("crisisteam")
    form.locator('input[name="email_ciso"]').fill(MAILBOX)
    form.get_by_role("button", name="Plannen").click()
    lead.get_by_test_id("drill-schedules").wait_for()
    row = lead.get_by_test_id("drill-schedules").locator("tr", has_text="DigiD")
    journey.shot(lead, "a tabletop exercise is planned for later")
    row.get_by_test_id("edit-plan").click()
    form = lead.get_by_test_id("plan-form")
    form.wait_for()
    assert form.locator('input[name="name_ciso"]').input_value() == "crisisteam"
    journey.shot(lead, "controller opens the plan to change it, filled in")
    form.locator('input[name="name_fg"]').fill("fg")
    form.locator('input[name="email_fg"]').fill("geen adres")
    form.locator('input[name="time"]').fill("10:00")
    form.get_by_role("button", name="Wijziging opslaan").click()
    lead.get_by_test_id("plan-errors").wait_for()
    assert "email_fg" in lead.locator("body").inner_text()
    assert lead.locator('input[name="name_fg"]').input_value() == "fg"
    journey.shot(lead, "a bad e-mail address is shown next to its field, the input kept")
    assert not _violations(lead), _violations(lead)
    form = lead.get_by_test_id("plan-form")
    form.locator('input[name="email_fg"]').fill(MAILBOX)
    form.locator('select[name="repeat"]').select_option("year")
    form.get_by_role("button", name="Wijziging opslaan").click()
    lead.get_by_test_id("drill-schedules").wait_for()
    row = lead.get_by_test_id("drill-schedules").locator("tr", has_text="DigiD")
    assert "10:00" in row.inner_text() and "elke 365" in row.inner_text()
    journey.shot(lead, "the changed plan: new time, yearly, DPO added")
