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
from tests.journeys.conftest import Journey, Platform


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

    # An ad-hoc task beside the playbook's steps, for the analyst themself.
    task = analyst.get_by_test_id("task-form")
    task.locator("input[name=title]").fill("Beheerder van het portaal bellen")
    task.locator("input[name=assignee]").fill("analist")
    task.locator("button").click()
    assert "Beheerder van het portaal bellen" in analyst.get_by_test_id("adhoc-tasks").inner_text()
    journey.shot(analyst, "analyst added an ad-hoc task for themself")

    # A related incident (the same rule on another host) is merged into this one.
    related = [i["id"] for i in others]
    assert related, "the demo day has a second brute-force incident to merge"
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
    assert "alert:" in origin and "kan vervalst zijn" in origin
    assert _step(analyst, "approve-block-source").count() == 0
    _step(analyst, "request-block-source").click()
    assert "aangevraagd door analist" in _step(analyst, "step-block-source").inner_text()
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
    adhoc = analyst.get_by_test_id("adhoc-tasks").locator("tbody tr").first
    adhoc.locator("input[name=note]").fill("Beheerder gebeld: geen onderhoud gepland")
    adhoc.locator("button").click()
    done = analyst.get_by_test_id("adhoc-tasks").inner_text()
    assert "analist" in done and "Beheerder gebeld: geen onderhoud gepland" in done
    assert "incident.task_completed" in analyst.get_by_test_id("timeline").inner_text()
    journey.shot(analyst, "analyst completed the ad-hoc task with a note")

    close = analyst.get_by_test_id("close-form")
    close.locator("select[name=close_reason]").select_option("resolved")
    close.locator("textarea[name=summary]").fill("Bron-IP geblokkeerd; geen account overgenomen.")
    close.locator("button").click()
    assert analyst.get_by_test_id("incident-status").inner_text() == "closed"
    timeline = analyst.get_by_test_id("timeline").inner_text()
    for expected in (
        "incident.assigned",
        "incident.commented",
        "incident.task_added",
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


def test_an_exception_from_an_alert_suppresses_the_next_matching_alert(
    platform: Platform, journey: Journey
) -> None:
    """Create from an alert, see the next matching event suppressed and counted, edit, expire."""
    token = _ingest_token(platform, "winlogbeat")
    _post_event(platform, token, host=EXCEPTION_HOST, record=1701)
    analyst = journey.login("analyst")
    alert = _wait_for_alert(analyst, EXCEPTION_HOST)
    analyst.goto(f"/alerts/{alert['id']}")
    journey.shot(analyst, "the alert raised on the backup server")
    analyst.get_by_test_id("make-exception").click()
    form = analyst.get_by_test_id("exception-form")
    assert form.locator("input[name=value]").input_value() == EXCEPTION_HOST
    assert form.locator("input[name=rule_id]").input_value() == alert["rule_id"]
    form.locator("input[name=reason]").fill("Geplande opschoning van back-ups")
    journey.shot(analyst, "the exception form is prefilled from the alert")
    form.locator("button").click()
    exception = next(
        e
        for e in analyst.request.get("/api/exceptions").json()
        if e["conditions"] == {"host.name": [EXCEPTION_HOST]} and e["active"]
    )
    row = analyst.get_by_test_id(f"exception-{exception['id']}")
    assert "analist" in row.inner_text()
    assert analyst.get_by_test_id(f"suppressed-{exception['id']}").inner_text() == "0"
    journey.shot(analyst, "the exception is listed with its owner, expiry and suppressed count")

    # The next matching event comes in through the collector: no alert, the count goes up.
    _post_event(platform, token, host=EXCEPTION_HOST, record=1702)
    _wait_for(analyst, f"suppressed-{exception['id']}", "1", seconds=90)
    journey.shot(analyst, "the next matching event was suppressed and counted")
    alerts = analyst.request.get(f"/api/alerts?host={EXCEPTION_HOST}&range=30d").json()["alerts"]
    assert [a["id"] for a in alerts] == [alert["id"]]  # still only the first alert
    analyst.goto("/alerts")
    analyst.get_by_test_id("queue-exceptions").locator("summary").click()
    summary = analyst.get_by_test_id(f"queue-exception-{exception['id']}")
    assert EXCEPTION_HOST in summary.inner_text() and "1" in summary.inner_text()
    journey.shot(analyst, "the queue says how many alerts the exception kept out")

    # Edit (a new reason and a later expiry), then end it; both are audited.
    analyst.goto("/exceptions")
    row = analyst.get_by_test_id(f"exception-{exception['id']}")
    row.locator("summary").click()
    edit = analyst.get_by_test_id(f"edit-form-{exception['id']}")
    edit.locator("input[name=reason]").fill("Opschoning loopt een week langer")
    journey.shot(analyst, "the analyst edits the exception's reason")
    edit.locator("button").click()
    row = analyst.get_by_test_id(f"exception-{exception['id']}")
    assert "Opschoning loopt een week langer" in row.inner_text()
    row.locator("summary").click()
    expire = analyst.get_by_test_id(f"expire-form-{exception['id']}")
    expire.locator("input[name=reason]").fill("Opschoning klaar")
    expire.locator("button").click()
    assert "verlopen" in analyst.get_by_test_id(f"exception-{exception['id']}").inner_text()
    journey.shot(analyst, "the analyst let the exception expire")
    assert "audit log intact" in platform.cli("audit", "verify")


def test_analyst_links_an_alert_to_an_open_incident(platform: Platform, journey: Journey) -> None:
    """An acknowledged alert (the router takes only new ones) is linked from its own page."""
    token = _ingest_token(platform, "winlogbeat")
    analyst = journey.login("analyst")
    alert = None
    for attempt in range(3):  # the router (every 15 s) may take a new alert before the analyst
        host = f"{LINK_HOST}-{attempt}"
        _post_event(platform, token, host=host, record=1800 + attempt)
        found = _wait_for_alert(analyst, host, poll=0.2)
        taken = analyst.request.post(
            "/api/alerts/bulk",
            data={"ids": [found["id"]], "action": "acknowledge"},
            headers={"X-CSRF-Token": _csrf_of(analyst)},
        )
        assert taken.ok, taken.text()
        time.sleep(1)
        detail = analyst.request.get(f"/api/alerts/{found['id']}").json()
        if detail["status"] == "acknowledged":
            alert = found
            break
    assert alert is not None, "the router took every new alert first"
    _an_open_incident(platform, token, analyst)
    analyst.goto(f"/alerts/{alert['id']}")
    picker = analyst.get_by_test_id("link-to-incident")
    choice = picker.locator("select[name=incident] option").first
    incident_id = choice.get_attribute("value")
    journey.shot(analyst, "the alert page offers the open incidents to link the alert to")
    picker.locator("button").click()
    analyst.get_by_test_id("incident-title").wait_for()
    assert analyst.url.split("#")[0].endswith(f"/incidents/{incident_id}")
    alerts = analyst.get_by_test_id("incident-alerts").inner_text()
    assert alert["id"] in alerts and "linked by hand by analist" in alerts
    assert "incident.alert_linked" in analyst.get_by_test_id("timeline").inner_text()
    journey.shot(analyst, "the incident lists the linked alert and the timeline says who did it")
    analyst.goto(f"/alerts/{alert['id']}")
    assert analyst.get_by_test_id("incident-link").inner_text() == f"#{incident_id}"
    journey.shot(analyst, "the alert now links to its incident")


def _an_open_incident(platform: Platform, token: str, analyst: Any) -> None:
    """Make sure an open incident exists to link to, whatever ran before on the shared
    platform: the router's (every 15 s) for a new alert, or the one the analyst triages now."""
    host = f"{LINK_HOST}-open"
    _post_event(platform, token, host=host, record=1799)
    other = _wait_for_alert(analyst, host, poll=0.2)
    analyst.goto(f"/alerts/{other['id']}")
    triage = analyst.get_by_test_id("triage")
    if triage.count():
        triage.click()
    deadline = time.monotonic() + 30
    while not analyst.request.get("/api/incidents?show=open").json():
        assert time.monotonic() < deadline, "no open incident appeared"
        time.sleep(0.5)


EXCEPTION_HOST = "backup-017"
LINK_HOST = "ws-link-017"


def _ingest_token(platform: Platform, name: str) -> str:
    output = platform.cli("tokens", "create", "--scope", "ingest", "--source", name)
    return next(word for word in output.split() if word.startswith("dkw_"))


def _post_event(platform: Platform, token: str, *, host: str, record: int) -> None:
    """A Sysmon `wbadmin delete backup` event as Winlogbeat sends it to the HTTP ingest."""
    import json
    from datetime import UTC, datetime

    import httpx

    event = {
        "@timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "event": {"kind": "event", "code": "1", "provider": "Microsoft-Windows-Sysmon"},
        "host": {"name": host},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 1,
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": host,
            "record_id": record,
            "event_data": {
                "Image": "C:\\Windows\\System32\\wbadmin.exe",
                "CommandLine": "wbadmin delete backup -keepVersions:3 -quiet",
                "User": "GEMEENTE\\beheer-jan",
            },
        },
    }
    port = platform.env["DIJKWACHT_INGEST_HTTP_PORT"]
    deadline = time.monotonic() + 90
    while True:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/ingest/winlogbeat",
                content=json.dumps(event) + "\n",
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/x-ndjson",
                },
                timeout=30,
            )
            break
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise AssertionError(platform.log.read_text()[-4000:]) from None
            time.sleep(1)
    assert response.status_code == 200 and response.json()["accepted"] == 1, response.text


def _wait_for_alert(page: Any, host: str, seconds: float = 90, poll: float = 1) -> dict[str, Any]:
    """The first alert on `host` once detection has raised it."""
    deadline = time.monotonic() + seconds
    while True:
        alerts = page.request.get(f"/api/alerts?host={host}&range=30d").json()["alerts"]
        if alerts:
            return dict(alerts[0])
        if time.monotonic() > deadline:
            raise AssertionError(f"no alert for host {host}")
        time.sleep(poll)


def _platform_key(journey: Journey) -> str:
    """The platform's public key, from its own secret (not from the package being checked)."""
    from core.audit_checkpoint import public_key_hex
    from core.config import load_settings

    return public_key_hex(load_settings(data_dir=journey.platform.data_dir))


def _csrf_of(page: Any) -> str:
    """The CSRF token of the session (from a page that has a form)."""
    page.goto("/exceptions")
    return _csrf(page)


def _csrf(page: Any) -> str:
    value = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert value, "the page carries no CSRF token"
    return str(value)
