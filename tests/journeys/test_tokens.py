"""The admin gives a collector its token, and takes it back (issue #22 point 8).

Against `up --demo`: on /admin/tokens the admin makes a token without a user, bound to the
source "zaaksysteem" with the `ingest` scope. The case system's sender posts a batch to the
collector with it; a batch for another source is refused (403). The admin revokes the token on
the same page, and the next batch is refused with 401 saying it was revoked. The page passes
axe with tokens on it, and `dijkwacht tokens list` shows the same state.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import httpx

from tests.journeys.conftest import Journey, Platform
from tests.journeys.test_advisories import _axe_clean


def _send(platform: Platform, token: str, source: str) -> httpx.Response:
    """One NDJSON batch to the collector's ingest port, once it listens."""
    port = platform.env["DIJKWACHT_INGEST_HTTP_PORT"]
    line = {"@timestamp": datetime.now(UTC).isoformat(), "event": {"kind": "event"},
            "message": "zaak 2026-0042 geopend"}  # fmt: skip
    deadline = time.monotonic() + 90
    while True:
        try:
            return httpx.post(
                f"http://127.0.0.1:{port}/api/ingest/{source}",
                content=json.dumps(line) + "\n",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
        except httpx.ConnectError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def test_admin_issues_and_revokes_a_collector_token(journey: Journey) -> None:
    platform = journey.platform
    admin = journey.login("admin")
    admin.goto("/admin/tokens")
    admin.fill("input[name=name]", "zaaksysteem")
    admin.fill("input[name=source]", "zaaksysteem")
    admin.check("input[name=scopes][value=ingest]")
    admin.click("form[action='/admin/tokens'] button[type=submit]")
    token = admin.get_by_test_id("new-token").inner_text().strip()
    assert token.startswith("dkw_")
    row = admin.get_by_test_id("tokens-table").locator("tr", has_text="zaaksysteem").first
    assert "ingest" in row.inner_text()
    _axe_clean(admin)
    journey.shot(admin, "the admin made a token for the case system, shown once")

    assert _send(platform, token, "zaaksysteem").json()["accepted"] == 1
    other = _send(platform, token, "brp")
    assert other.status_code == 403 and "bound to source 'zaaksysteem'" in other.text

    admin.goto("/admin/tokens")
    row = admin.get_by_test_id("tokens-table").locator("tr", has_text="zaaksysteem").first
    row.get_by_role("button", name="Intrekken").click()
    admin.wait_for_load_state("networkidle")
    row = admin.get_by_test_id("tokens-table").locator("tr", has_text="zaaksysteem").first
    assert "ingetrokken" in row.inner_text()
    _axe_clean(admin)
    journey.shot(admin, "the admin revoked the token")

    refused = _send(platform, token, "zaaksysteem")
    assert refused.status_code == 401 and "was revoked at" in refused.json()["detail"]
    listed = platform.cli("tokens", "list")
    assert any(
        "\tzaaksysteem\t" in line and "\trevoked\t" in line for line in listed.splitlines()
    ), listed
