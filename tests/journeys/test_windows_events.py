"""An analyst finds a SigmaHQ Windows alert raised from an event Winlogbeat sent (issue #21).

A Windows client ships Sysmon events as Winlogbeat does (ECS with the Windows fields under
`winlog.*`) to the collector's HTTP ingest. Under the default configuration the SigmaHQ rule in
the rule pack fires on it through the Windows mapping, and the analyst opens the alert.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx

from tests.journeys.conftest import Journey, Platform

HOST = "ws-evtx-021"


def _winlogbeat_event() -> dict[str, object]:
    """Sysmon process creation of `wbadmin delete backup`, shaped as Winlogbeat sends it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return {
        "@timestamp": now,
        "event": {"kind": "event", "code": "1", "provider": "Microsoft-Windows-Sysmon"},
        "host": {"name": HOST},
        "winlog": {
            "channel": "Microsoft-Windows-Sysmon/Operational",
            "event_id": 1,
            "provider_name": "Microsoft-Windows-Sysmon",
            "computer_name": HOST,
            "record_id": 4242,
            "event_data": {
                "Image": "C:\\Windows\\System32\\wbadmin.exe",
                "CommandLine": "wbadmin delete backup -keepVersions:3 -quiet",
                "User": "GEMEENTE\\beheer-jan",
            },
        },
    }


def _post(platform: Platform, token: str) -> None:
    """Post the event once the collector listens (it starts beside the dashboard)."""
    port = platform.env["DIJKWACHT_INGEST_HTTP_PORT"]
    deadline = time.monotonic() + 90
    while True:
        try:
            response = httpx.post(
                f"http://127.0.0.1:{port}/api/ingest/winlogbeat",
                content=json.dumps(_winlogbeat_event()) + "\n",
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
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 1, response.text


def test_analyst_sees_a_sigmahq_alert_from_a_winlogbeat_event(
    platform: Platform, journey: Journey
) -> None:
    output = platform.cli("tokens", "create", "--scope", "ingest", "--source", "winlogbeat")
    token = next(line for line in output.split() if line.startswith("dkw_"))
    _post(platform, token)

    page = journey.login("analyst")
    rows = None
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        page.goto(f"/alerts?host={HOST}")
        table = page.get_by_test_id("alert-table")
        table.wait_for()
        rows = table.locator("tbody tr")
        if rows.count() > 0 and HOST in (rows.first.inner_text() or ""):
            break
        time.sleep(2)
    assert rows is not None and rows.count() > 0, "no alert for the Winlogbeat event"
    journey.shot(page, "analyst filters the queue on the Windows client")
    assert "Wbadmin" in rows.first.inner_text()
    rows.first.locator("a").first.click()
    page.get_by_test_id("alert-body").wait_for()
    journey.shot(page, "analyst opens the SigmaHQ alert raised from the Winlogbeat event")
    assert "Windows Backup Deleted Via Wbadmin.EXE" in page.inner_text("body")
    # Raised through the Windows mapping: the rule ran under the SigmaHQ Sysmon stack.
    assert "sysmon+windows-logsources" in (page.get_by_test_id("alert-body").text_content() or "")
