"""The DPO (FG) handles a breach from start to finish, in the browser, against `up --demo`.

The demo's snooping scenario raises privacy alerts; the privacy playbook hands the incident to
the breach workflow, so a proposed breach is waiting. The DPO opens it (incident and alerts
linked), records the facts and the assessment, decides to notify, completes the AP draft until
nothing is missing, finalises it (PDF and JSON carry the hash), drafts letters that a second DPO
approves (four eyes), sends them to the local mail receiver, and closes with lessons learned.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from tests.journeys.conftest import PASSWORD, Journey
from tests.journeys.test_shift_views import _violations

LETTER_TEXTS = {
    "what_happened": ("Een medewerker heeft uw gegevens zonder reden ingezien.",
                      "An employee viewed your data without a reason."),
    "consequences": ("Uw adres kan bekend zijn bij iemand die het niet mocht weten.",
                     "Your address may be known to someone who should not know it."),
    "measures": ("De toegang van de medewerker is ingetrokken.",
                 "The employee's access has been withdrawn."),
    "advice": ("Bel ons als u vragen heeft: 14 020.", "Call us with questions: 14 020."),
}  # fmt: skip


def _wait_for_proposal(journey: Journey, page: Any) -> None:
    """The hand-off task runs every 30 s; the demo's alerts need a moment to become incidents."""
    deadline = time.monotonic() + 150
    while True:
        page.goto("/")
        if page.get_by_test_id("proposed-breach").count() > 0:
            return
        assert time.monotonic() < deadline, "the demo left no proposed breach for the DPO"
        time.sleep(5)


def _brp(journey: Journey) -> dict[str, tuple[str, str, str]]:
    """The DPO's look-up in the BRP: pseudonym -> (BSN, surname, address) of the demo residents.

    The demo world's BRP export stands in for the population register the DPO consults; the
    platform itself never holds it.
    """
    from core.privacy.service import Pseudonymiser

    data = journey.platform.data_dir
    key = (data / "secrets" / "pseudonym_key").read_text(encoding="utf-8").strip()
    pseudonymiser = Pseudonymiser(key.encode("utf-8"))
    found = {}
    with (data / "demo-world" / "context" / "residents.csv").open(encoding="utf-8") as rows:
        for row in csv.DictReader(rows):
            found[pseudonymiser.pseudonym(row["bsn"])] = (
                row["bsn"],
                row["surname"],
                row["address"],
            )
    return found


def _resident_with_reads(journey: Journey, page: Any) -> str:
    """A demo resident whose data municipal staff viewed (the BRP look-up of the DPO)."""
    token = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    for bsn, _surname, _address in list(_brp(journey).values())[:40]:
        found = page.request.post(
            "/api/access-report", data={"bsn": bsn}, headers={"X-CSRF-Token": token}
        )
        records = found.json()["records"] if found.ok else []
        # an application read by staff with a role (LDV records of systems may carry none)
        if any(r["source"] != "dijkwacht" and r.get("role") for r in records):
            return bsn
    raise AssertionError("no demo resident with application reads among the first 40")


def _walk_nis2(journey: Journey, page: Any, breach_url: str) -> None:
    """Early warning (24 h), notification (72 h), final report (1 month): open, fill, finalise."""
    for kind, due in (("nis2_early_warning", "24 uur"), ("nis2_notification", "72 uur"),
                      ("nis2_final", "1 maand")):  # fmt: skip
        page.goto(breach_url + "#reports")
        page.locator("select[name=kind]").select_option(kind)
        page.get_by_role("button", name="NIS2/Cbw-rapport maken").click()
        page.get_by_test_id("report-form").wait_for()
        deadline = page.get_by_test_id("report-deadline").inner_text()
        assert due in deadline and "uiterlijk" in deadline, deadline
        journey.shot(page, f"NIS2/Cbw {kind}: the form with its deadline ({due})")
        assert not _violations(page), _violations(page)
        for _ in range(3):
            _fill_report(page)
            page.get_by_role("button", name="Opslaan").click()
            page.wait_for_load_state()
            if page.get_by_test_id("nothing-missing").count():
                break
        assert page.get_by_test_id("nothing-missing").count() == 1, page.inner_text("body")[:3000]
        page.get_by_test_id("finalise").click()
        page.get_by_test_id("report-hash").wait_for()
        assert "op tijd ingediend" in page.get_by_test_id("report-deadline").inner_text()
        journey.shot(page, f"NIS2/Cbw {kind} final, filed in time")


def _fill_report(page: Any) -> None:
    """Answer every question of the AP form the way a DPO would, in Amsterdam time."""
    yesterday = datetime.now(ZoneInfo("Europe/Amsterdam")) - timedelta(days=1)
    form = page.get_by_test_id("report-form")
    for select in form.locator("select").all():
        name = select.get_attribute("name")
        if name in ("tijdlijn.duurt_voort", "maatregelen_vooraf.onleesbaar"):
            select.select_option("nee")
        elif not select.input_value():
            select.select_option(index=1)
    for field in form.locator("input[type=datetime-local]").all():
        if not field.input_value():
            field.fill(yesterday.strftime("%Y-%m-%dT%H:%M"))
    for field in form.locator("input[inputmode=numeric]").all():
        if not field.input_value():
            field.fill("140")
    for area in form.locator("textarea").all():
        if not area.input_value():
            area.fill("Zie het datalekregister; ingevuld door de FG.")


def test_dpo_handles_a_breach_from_start_to_finish(journey: Journey, mailbox: Any) -> None:
    page = journey.login("dpo")
    _wait_for_proposal(journey, page)
    journey.shot(page, "DPO sees the breach proposed by detection on the home page")
    assert not _violations(page), _violations(page)
    assert "voorgesteld door de detectie" in page.get_by_test_id("home-proposed").inner_text()
    page.goto("/dpo/clocks")
    journey.shot(page, "the clock page shows its deadlines with time left")
    assert "nog " in page.get_by_test_id("clock-table").inner_text()

    page.goto("/")
    page.get_by_test_id("proposed-breach").first.locator("a").first.click()
    page.get_by_test_id("breach-state").wait_for()
    journey.shot(page, "DPO opens the proposed breach to assess it, incident and alerts linked")
    assert page.get_by_test_id("linked-incident").count() == 1
    assert "subjects_min" not in page.inner_text("body")
    breach_url = page.url.split("#")[0]

    # The incident behind the breach, read only (the DPO sees no other incidents).
    page.get_by_test_id("open-incident").click()
    page.wait_for_load_state()
    if page.get_by_test_id("purpose-form").count():
        page.fill("input[name=purpose]", "Beoordeling datalek door de FG")
        page.get_by_test_id("purpose-form").locator("button").click()
        page.wait_for_load_state()
    assert "/incidents/" in page.url and page.locator("h1").count() == 1
    journey.shot(page, "DPO reads the incident behind the breach")
    page.goto(breach_url)

    page.fill("input[name=subjects_min]", "120")
    page.fill("input[name=subjects_max]", "140")
    page.fill("input[name=data_categories]", "naam, adres, BSN")
    page.check("input[name=type_confidentiality]")
    page.click("#facts + form button[type=submit]")
    page.wait_for_load_state()
    journey.shot(page, "DPO records the facts; history says who changed what")
    assert "van / from" in page.get_by_test_id("history").inner_text() or "120" in (
        page.get_by_test_id("history").inner_text()
    )

    form = page.get_by_test_id("assessment-form")
    form.locator("select[name=dpc_base]").select_option("4")
    form.locator("select[name=ease_of_identification]").select_option("maximum")
    form.locator("select[name=loss_of_confidentiality]").select_option("2")
    form.locator("input[name=malicious_intent]").check()
    form.locator("textarea[name=nature_sensitivity_volume]").fill("BRP-gegevens van 140 inwoners")
    form.locator("textarea[name=severity_of_consequences]").fill("Adres van kwetsbare inwoners")
    form.locator("input[name=number_of_individuals]").fill("140")
    form.locator("button[type=submit]").click()
    page.get_by_test_id("assessment-outcome").wait_for()
    journey.shot(page, "DPO sees the computed severity and why")
    assert "ENISA" in page.get_by_test_id("assessment-outcome").inner_text()

    decision = page.get_by_test_id("decision-form")
    decision.locator("input[value=notify_ap_and_subjects]").check()
    decision.locator("textarea[name=reason]").fill("Hoog risico voor 140 inwoners (art. 33/34).")
    decision.locator("button[type=submit]").click()
    page.get_by_test_id("decision").wait_for()
    journey.shot(page, "DPO decides to notify the AP and inform the residents")

    page.get_by_role("button", name="Concept-melding aan de AP maken").click()
    page.get_by_test_id("report-form").wait_for()
    journey.shot(page, "the AP draft with every section and what is still missing")
    assert page.get_by_test_id("missing").locator("li").count() > 0
    for _ in range(3):
        _fill_report(page)
        page.get_by_role("button", name="Opslaan").click()
        page.wait_for_load_state()
        if page.get_by_test_id("nothing-missing").count():
            break
    journey.shot(page, "the AP draft is complete: nothing missing")
    assert page.get_by_test_id("nothing-missing").count() == 1, page.inner_text("body")[:3000]

    page.get_by_test_id("finalise").click()
    page.get_by_test_id("report-hash").wait_for()
    journey.shot(page, "the AP notification is final, frozen and hashed")
    digest = page.get_by_test_id("report-hash").locator("code").inner_text().strip()
    exported = page.request.get(page.get_by_test_id("export-json").get_attribute("href"))
    assert exported.ok and exported.json()["sha256"] == digest
    pdf = page.request.get(page.get_by_test_id("export-pdf").get_attribute("href"))
    assert pdf.ok and pdf.body().startswith(b"%PDF")
    from pypdf import PdfReader

    text = "".join(
        "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages).split()
    )
    assert digest in text

    _walk_nis2(journey, page, breach_url)

    # Letters to the affected residents the incident names (pseudonyms), two of them here.
    page.goto(breach_url + "#letters")
    letters = page.get_by_test_id("letters-form")
    offered = letters.get_by_test_id("affected-subjects").locator("input[type=checkbox]")
    assert offered.count() >= 1, "the demo's breach names no affected resident"
    for index in range(2, offered.count()):
        offered.nth(index).uncheck()
    chosen = [
        (offered.nth(i).get_attribute("name") or "").removeprefix("subject_")
        for i in range(min(2, offered.count()))
    ]
    journey.shot(page, "DPO writes to the affected residents the incident names")
    assert not _violations(page), _violations(page)
    for key, (nl, en) in LETTER_TEXTS.items():
        letters.locator(f"textarea[name=nl_{key}]").fill(nl)
        letters.locator(f"textarea[name=en_{key}]").fill(en)
    letters.locator("button[type=submit]").click()
    page.get_by_test_id("waiting-recipients").wait_for()
    journey.shot(page, "the residents await identification; re-identification requested")
    assert not _violations(page), _violations(page)
    letters_url = page.url.split("#")[0]

    journey.platform.cli(
        "admin", "create-user", "fg2", "--role", "dpo", "--password-stdin", stdin=PASSWORD + "\n"
    )
    second = journey.visitor()
    second.goto("/login")
    second.fill("input[name=username]", "fg2")
    second.fill("input[name=password]", PASSWORD)
    second.click("form[action='/login'] button[type=submit]")
    second.wait_for_load_state("networkidle")
    # Four eyes on re-identification: a second DPO and an incident manager approve each.
    manager = journey.login("incident_manager")
    for approver in (second, manager):
        approver.goto("/reidentification")
        table = approver.get_by_test_id("reid-table")
        ids = [
            row.locator("td").first.inner_text().strip()
            for row in table.locator("tbody tr").all()
            if any(p in row.inner_text() for p in chosen) and "pending" in row.inner_text()
        ]
        assert len(ids) == len(chosen), approver.inner_text("body")[:2000]
        for request_id in ids:
            approver.locator(
                f"form[action='/reidentification/{request_id}/approve'] button"
            ).click()
            approver.wait_for_load_state()
    journey.shot(manager, "an incident manager approves the re-identification (four eyes)")

    # The DPO looks each resident up in the BRP; the platform checks the BSN, keeps no BSN.
    brp = _brp(journey)
    page.goto(letters_url.replace(journey.platform.base_url, ""))
    for number in range(len(chosen)):
        row = page.get_by_test_id("waiting-row").first
        pseudonym = row.locator("code").inner_text().strip()
        bsn, surname, address = brp[pseudonym]
        form = row.get_by_test_id("identify-form")
        form.locator("input[name=bsn]").fill(bsn)
        form.locator("input[name=name]").fill(f"Bewoner {surname}")
        form.locator("input[name=address]").fill(address)
        form.locator("input[name=email]").fill(f"inwoner{number + 1}@example.org")
        form.locator("select[name=language]").select_option("en" if number else "nl")
        form.get_by_role("button", name="Controleren en opnemen").click()
        page.wait_for_load_state()
        assert bsn not in page.content()
    journey.shot(page, "DPO reviews a sample of the letters in Dutch and English")
    assert page.get_by_test_id("waiting-recipients").count() == 0
    assert "Bewoner" in page.inner_text("body")

    second.goto(letters_url.replace(journey.platform.base_url, ""))
    second.get_by_role("button", name="Goedkeuren").click()
    second.wait_for_load_state()
    journey.shot(second, "a second DPO approves the letters (four eyes)")
    second.get_by_role("button", name="Versturen").click()
    second.wait_for_load_state()

    deadline = time.monotonic() + 120
    while len(mailbox.messages) < len(chosen):
        assert time.monotonic() < deadline, "the letters never reached the mail receiver"
        time.sleep(2)
    page.goto(breach_url + "#letters")
    journey.shot(page, "the letters are delivered; the breach page shows the delivery status")
    assert {to for tos, _ in mailbox.messages for to in tos} >= {
        f"inwoner{n + 1}@example.org" for n in range(len(chosen))
    }

    close = page.get_by_test_id("close-form")
    close.locator("textarea[name=remedial_actions]").fill("Toegang ingetrokken; logcontrole.")
    close.locator("textarea[name=lessons]").fill("Autorisaties per kwartaal herzien.")
    close.locator("button[type=submit]").click()
    page.wait_for_load_state()
    journey.shot(page, "DPO closes the breach with lessons learned")
    assert "Afgesloten" in page.get_by_test_id("breach-state").inner_text()


def test_dpo_answers_a_residents_access_request(journey: Journey) -> None:
    page = journey.login("dpo")
    page.goto("/dpo/requests")
    form = page.get_by_test_id("new-request-form")
    form.locator("select[name=kind]").select_option("access")
    form.locator("input[name=requester]").fill("A. Jansen")
    form.locator("input[name=bsn]").fill("12345")
    form.locator("button[type=submit]").click()
    page.get_by_test_id("error-bsn").wait_for()
    journey.shot(page, "an invalid BSN is an error next to the field, the form kept")
    assert page.locator("input[name=requester]").input_value() == "A. Jansen"

    bsn = _resident_with_reads(journey, page)
    page.locator("input[name=bsn]").fill(bsn)
    page.get_by_test_id("new-request-form").locator("button[type=submit]").click()
    page.get_by_test_id("request-row").first.wait_for()
    journey.shot(page, "the request is registered with its one-month clock")
    assert "nog " in page.get_by_test_id("request-table").inner_text()

    produce = page.get_by_test_id("report-from-request").first
    produce.locator("input[name=bsn]").fill(bsn)
    produce.locator("button[type=submit]").click()
    page.get_by_test_id("report-count").wait_for()
    journey.shot(page, "the access report for that resident, in Amsterdam time and plain words")
    assert "UTC" not in page.inner_text("main") if page.locator("main").count() else True
    table = page.get_by_test_id("report-table").inner_text()
    for code in ("medewerker-", "consulent-", "incident_manager", "app_audit", "data.read"):
        assert code not in table, code
    words = ("medewerker burgerzaken", "consulent Wmo", "medewerker vergunningen")
    assert any(word in table for word in words), table[:1000]

    page.goto("/dpo/requests")
    answer = page.get_by_test_id("answer-form").first
    answer.locator("textarea[name=answer]").fill("Overzicht per post verstuurd op verzoek.")
    answer.locator("button[type=submit]").click()
    page.wait_for_load_state()
    journey.shot(page, "the answer sent is recorded and the request is closed")
    assert "beantwoord" in page.get_by_test_id("request-table").inner_text()
