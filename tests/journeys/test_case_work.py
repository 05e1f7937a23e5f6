"""Case work in the browser: an analyst and an incident manager work a demo incident to the end.

Against `dijkwacht up --demo` (API, worker and beat). The demo's router groups the day's alerts
into incidents within seconds, so the analyst finds the alert already triaged and the page says
where it went and why. The analyst takes the case, comments, adds an observable, merges the
related brute-force incident and requests the playbook's block action; the incident manager
(a second browser context) approves it, the worker runs the Ansible play against the local
inventory, and the timeline shows its result. Then the tasks are completed and the case closed.
"""

from __future__ import annotations

import io
import time
import zipfile
from pathlib import Path
from typing import Any

from playbooks.service import verify_police_package
from tests.journeys.conftest import Journey


def _wait_for(page: Any, test_id: str, text: str, seconds: float = 120) -> None:
    """Reload until the element with `test_id` shows `text` (the worker runs in the background)."""
    deadline = time.monotonic() + seconds
    while True:
        element = page.get_by_test_id(test_id)
        if element.count() and text in element.first.inner_text():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{test_id} never showed {text!r}: {page.content()[-3000:]}")
        time.sleep(2)
        page.reload()


def _brute_force_incidents(page: Any, seconds: float = 90) -> list[dict[str, Any]]:
    """The demo's brute-force incidents once the router (beat, every 15 s) has made them."""
    deadline = time.monotonic() + seconds
    while True:
        found = [
            i
            for i in page.request.get("/api/incidents?show=open").json()
            if i["title"].startswith("Brute force")
        ]
        if found:
            return sorted(found, key=lambda i: i["id"])
        if time.monotonic() > deadline:
            raise AssertionError("the demo's brute-force alerts were not routed")
        time.sleep(2)


def _step(page: Any, test_id: str) -> Any:
    """An element of the case's own playbook run (a merged incident brings its run along)."""
    return page.get_by_test_id("run-steps").first.get_by_test_id(test_id)


def test_analyst_and_incident_manager_work_a_case_to_the_end(journey: Journey) -> None:
    analyst = journey.login("analyst")
    case, *others = _brute_force_incidents(analyst)
    alert_id = analyst.request.get(f"/api/incidents/{case['id']}").json()["alert_ids"][0]
    analyst.goto("/alerts?status=in_incident")
    analyst.get_by_test_id("alert-table").wait_for()
    journey.shot(analyst, "analyst sees the demo day's alerts the router put in incidents")

    # The alert says which incident it is in; the incident says why the alert was grouped there.
    analyst.goto(f"/alerts/{alert_id}")
    link = analyst.get_by_test_id("incident-link")
    journey.shot(analyst, "the alert shows the incident the router put it in")
    incident_id = link.inner_text().lstrip("#")
    link.click()
    analyst.get_by_test_id("incident-title").wait_for()
    assert "brute-force-portal" in analyst.get_by_test_id("incident-alerts").inner_text()
    journey.shot(analyst, "the incident lists the alert and why it was grouped")

    # Take the case and start working it.
    analyst.get_by_test_id("assign-me").click()
    assert analyst.get_by_test_id("incident-assignee").inner_text() == "analist"
    form = analyst.get_by_test_id("status-form")
    form.locator("select[name=status]").select_option("in_progress")
    form.locator("input[name=reason]").fill("Analyse gestart")
    form.locator("button").click()
    assert analyst.get_by_test_id("incident-status").inner_text() == "in_progress"
    journey.shot(analyst, "analyst assigned the case to themself and started it")

    # Illegal status change: refused with the reason next to the form, input kept.
    refused = analyst.request.post(
        f"/api/incidents/{incident_id}/status",
        data={"status": "new", "reason": "terug"},
        headers={"X-CSRF-Token": _csrf(analyst)},
    )
    assert refused.status == 409 and "cannot go from 'in_progress' to 'new'" in refused.text()

    comment = analyst.get_by_test_id("comment-form")
    comment.locator("textarea").fill(
        "Veel mislukte logins vanaf **één bron**.\n- DigiD-logs opgevraagd\n"
        "<script>alert(1)</script>"
    )
    comment.locator("button").click()
    comments = analyst.get_by_test_id("comments")
    assert comments.locator("strong").inner_text() == "één bron"
    assert "<script>alert(1)</script>" in comments.inner_text()  # shown as text, never run
    observable = analyst.get_by_test_id("observable-form")
    observable.locator("select[name=kind]").select_option("ip")
    observable.locator("input[name=value]").fill("198.51.100.23")
    observable.locator("button").click()
    assert "198.51.100.23" in analyst.get_by_test_id("observables").inner_text()
    journey.shot(analyst, "a comment in safe markdown and an observable added by hand")

    # A related incident (the same rule on another host) is merged into this one.
    related = [i["id"] for i in others]
    if related:
        analyst.goto(f"/incidents/{related[0]}")
        merge = analyst.get_by_test_id("merge-form")
        merge.locator("input[name=target]").fill(incident_id)
        journey.shot(analyst, "analyst merges the related brute-force incident into the case")
        merge.locator("button").click()
        analyst.get_by_test_id("incident-title").wait_for()
        assert analyst.url.split("#")[0].endswith(f"/incidents/{incident_id}")
        assert "incident.merged_in" in analyst.get_by_test_id("timeline").inner_text()
        journey.shot(analyst, "the survivor has the alerts of both incidents")

    # Four eyes: the analyst requests the block; the target's origin is shown.
    origin = _step(analyst, "origin-block-source").inner_text()
    assert "alert:" in origin and "can be spoofed" in origin
    assert _step(analyst, "approve-block-source").count() == 0
    _step(analyst, "request-block-source").click()
    assert "requested by analist" in _step(analyst, "step-block-source").inner_text()
    assert _step(analyst, "approve-block-source").count() == 0  # not their own request
    journey.shot(analyst, "analyst requested the block; the source IP comes from log content")

    manager = journey.login("incident_manager")
    manager.goto(f"/incidents/{incident_id}#playbooks")
    journey.shot(manager, "the incident manager sees the request and the IP's origin")
    _step(manager, "approve-block-source").click()
    _wait_for(manager, "status-block-source", "done")
    result = _step(manager, "result-block-source").inner_text()
    assert "block_ip" in result and "successful" in result
    assert "block_ip" in manager.get_by_test_id("timeline").inner_text()
    journey.shot(manager, "the worker ran the Ansible block and the timeline shows the result")

    # The remaining tasks: the analyst checks the accounts, the manager decides and reviews.
    analyst.reload()
    _wait_for(analyst, "status-check-accounts", "open")
    task = _step(analyst, "complete-form-check-accounts")
    task.locator("input[name=note]").fill("Geen geslaagde login na de pogingen")
    task.locator("button").click()
    _wait_for(manager, "status-compromised", "open")
    _step(manager, "decide-compromised-no").click()
    _wait_for(manager, "status-close-out", "open")
    review = _step(manager, "complete-form-close-out")
    review.locator("input[name=note]").fill("Blokkade herzien op 6 januari")
    review.locator("button").click()
    _wait_for(manager, "status-close-out", "done")
    journey.shot(manager, "every playbook step is done")

    analyst.reload()
    close = analyst.get_by_test_id("close-form")
    close.locator("select[name=close_reason]").select_option("resolved")
    close.locator("textarea[name=summary]").fill("Bron-IP geblokkeerd; geen account overgenomen.")
    close.locator("button").click()
    assert analyst.get_by_test_id("incident-status").inner_text() == "closed"
    timeline = analyst.get_by_test_id("timeline").inner_text()
    for expected in (
        "incident.assigned",
        "incident.commented",
        "approval.requested",
        "approval.granted",
        "incident.closed",
    ):
        assert expected in timeline
    journey.shot(analyst, "analyst closed the case with a reason and a summary")

    # The police package: downloaded from the page, checked against the platform's own key.
    with analyst.expect_download() as download:
        analyst.get_by_test_id("police-export").click()
    package = Path(download.value.path()).read_bytes()
    assert verify_police_package(package, public_key=_platform_key(journey)) == []
    with zipfile.ZipFile(io.BytesIO(package)) as archive:
        names = set(archive.namelist())
        custody = archive.read("CHAIN_OF_CUSTODY.txt").decode()
    assert f"aangifte-incident-{incident_id}.pdf" in names and "exported by analist" in custody
    analyst.reload()
    assert "incident.police_exported" in analyst.get_by_test_id("timeline").inner_text()
    journey.shot(analyst, "the police package was exported and is on the timeline")

    analyst.goto("/incidents?show=all")
    row = analyst.get_by_test_id("incident-table").locator(
        f"tr:has(a[href='/incidents/{incident_id}'])"
    )
    assert "closed" in row.inner_text()
    journey.shot(analyst, "the incident list shows age, time to acknowledge and contain, SLA")


def test_analyst_makes_an_exception_from_an_alert(journey: Journey) -> None:
    analyst = journey.login("analyst")
    alert = _alert_with_a_host(analyst)
    analyst.goto(f"/alerts/{alert['id']}")
    analyst.get_by_test_id("make-exception").click()
    form = analyst.get_by_test_id("exception-form")
    assert form.locator("input[name=value]").input_value() == alert["host_name"]
    form.locator("input[name=reason]").fill("Bekende beheertaak op deze host")
    journey.shot(analyst, "the exception form is prefilled from the alert")
    form.locator("button").click()
    table = analyst.get_by_test_id("exception-table")
    row = table.locator("tbody tr").first
    assert alert["host_name"] in row.inner_text() and "analist" in row.inner_text()
    journey.shot(analyst, "the exception is listed with its owner, expiry and suppressed count")
    row.locator("input[name=reason]").fill("Beheertaak afgerond")
    row.locator("button").click()
    assert "verlopen / expired" in analyst.get_by_test_id("exception-table").inner_text()
    journey.shot(analyst, "the analyst let the exception expire")


def _alert_with_a_host(page: Any) -> dict[str, Any]:
    """The first alert (newest first, page by page) that names a host."""
    for number in range(1, 40):
        alerts = page.request.get(f"/api/alerts?page={number}").json()["alerts"]
        if not alerts:
            break
        found = next((a for a in alerts if a.get("host_name")), None)
        if found is not None:
            return dict(found)
    raise AssertionError("no alert of the demo day names a host")


def _platform_key(journey: Journey) -> str:
    """The platform's public key, from its own secret (not from the package being checked)."""
    from core.audit_checkpoint import public_key_hex
    from core.config import load_settings

    return public_key_hex(load_settings(data_dir=journey.platform.data_dir))


def _csrf(page: Any) -> str:
    value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value, "the page carries no CSRF token"
    return str(value)
