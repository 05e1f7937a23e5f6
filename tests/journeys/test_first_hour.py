"""The first hour of an admin: files in by content, forwarded sshd lines, dead letters in
sight, and accounts managed without locking anyone out.

Walked against `dijkwacht up --demo` as the admin would: the command line for files and status,
a syslog sender for forwarded logs, and the browser for the collectors and users pages.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import time

from tests.journeys.conftest import PASSWORD, Journey

FORWARDED = (
    # rsyslog relaying a message it received as RFC 5424: the tag has no colon.
    b"<38>Dec  7 10:00:00 vm01 sshd[1234] Failed password for root from 192.0.2.7 port 50022 ssh2"
)


def _search(journey: Journey, *fields: str) -> list[dict]:
    args = ["search", "--json"]
    for field in fields:
        args += ["--field", field]
    out = journey.platform.cli(*args)
    return [json.loads(line)["event"] for line in out.splitlines() if line.startswith("{")]


def test_admin_ingests_files_by_content_and_sees_dead_letters(journey: Journey) -> None:
    platform = journey.platform
    generated = platform.cli("demo", "generate", "--days", "1")
    world = platform.data_dir / "output" / "demo-world"
    assert str(world) in generated.replace("\n", "")
    files = [str(world / name) for name in ("auth.log", "nginx_access.log", "portal_auth.jsonl")]
    out = platform.cli("ingest", *files)
    assert "auth.log: read as authlog" in out and "nginx_access.log: read as nginx" in out
    assert "dead-lettered 0 line(s) from 3 of 3 file(s)" in out
    assert _search(journey, "host.name=web01", "event.action=ssh_invalid_user")

    # A file it cannot place: refused with the choices, exit 1, nothing dead-lettered.
    manifest = world / "manifest.json"
    refused = platform.cli("ingest", str(manifest), check=False)
    assert "cannot tell its format" in refused and "--format authlog" in refused
    # A wrong --format: every line refused, exit 1, the lines kept as dead letters.
    wrong = platform.cli(
        "ingest", "--format", "syslog", str(world / "mail_audit.jsonl"), check=False
    )
    assert "no line could be read as syslog" in wrong and "nothing stored" in wrong

    # A forwarded sshd line arrives over UDP syslog and gets the auth.log fields.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(FORWARDED, ("127.0.0.1", platform.syslog_port))
        sender.sendto(b"not syslog at all", ("127.0.0.1", platform.syslog_port))
    deadline = time.monotonic() + 60
    found: list[dict] = []
    while not found and time.monotonic() < deadline:
        found = _search(journey, "host.name=vm01", "event.action=ssh_login")
        time.sleep(1)
    assert found, "the forwarded sshd line never reached the store"
    event = found[0]
    assert event["user"]["name"] == "root" and event["source"]["ip"] == "192.0.2.7"
    assert event["process"] == {"name": "sshd", "pid": 1234}

    status = platform.cli("collectors", "status")
    assert str(world / "mail_audit.jsonl") in status.replace("\n", "")

    page = journey.login("admin")
    page.goto("/collectors")
    block = page.get_by_test_id("dead-letters")
    block.wait_for()
    block.scroll_into_view_if_needed()
    journey.shot(page, "admin sees dead letters of every path on the collectors page")
    total = int(page.get_by_test_id("dead-letters-total").inner_text())
    assert total >= 14  # the mail audit file's lines (and the UDP junk, once spooled)
    assert "mail_audit.jsonl" in page.get_by_test_id("dead-letter-table").inner_text()


def test_admin_changes_a_role_resets_a_password_and_cannot_demote_the_last_admin(
    journey: Journey,
) -> None:
    platform = journey.platform
    platform.cli(
        "admin", "create-user", "stagiair", "--role", "analyst", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    page = journey.login("admin")
    page.goto("/admin/users")
    account = page.get_by_test_id("account-stagiair")
    account.locator("summary").click()
    journey.shot(page, "admin opens the account of the intern")
    account.locator("select[name=role]").select_option("incident_manager")
    account.get_by_role("button", name="Rol opslaan").click()
    page.wait_for_load_state()
    assert "stagiair (incident_manager)" in page.get_by_test_id("account-stagiair").inner_text()

    new_password = "nieuw wachtwoord voor de stagiair"
    account = page.get_by_test_id("account-stagiair")
    account.locator("summary").click()
    account.locator("input[name=password]").fill("kort")
    # The browser's own minlength check would stop "kort"; the server's message is the one
    # shown next to the field when a script or an older browser sends it anyway.
    account.locator("input[name=password]").evaluate("el => el.removeAttribute('minlength')")
    account.get_by_role("button", name="Wachtwoord instellen").click()
    page.wait_for_load_state()
    error = page.locator("#password-error-stagiair")
    error.wait_for()
    journey.shot(page, "a too short password is refused next to the field")
    assert "at least 12" in error.inner_text()
    account = page.get_by_test_id("account-stagiair")
    account.locator("input[name=password]").fill(new_password)
    account.get_by_role("button", name="Wachtwoord instellen").click()
    page.wait_for_load_state()

    # The only admin tries to make themselves an analyst: refused, the choice kept.
    me = page.get_by_test_id("account-beheerder")
    me.locator("summary").click()
    me.locator("select[name=role]").select_option("analyst")
    me.get_by_role("button", name="Rol opslaan").click()
    page.wait_for_load_state()
    refusal = page.locator("#role-error-beheerder")
    refusal.wait_for()
    refusal.scroll_into_view_if_needed()
    journey.shot(page, "the last admin cannot demote themselves")
    assert "at least one active admin" in refusal.inner_text()
    assert page.get_by_test_id("account-beheerder").locator("select[name=role]").input_value() == (
        "analyst"
    )

    # The intern logs in with the new password and lands as an incident manager.
    intern = journey.visitor()
    intern.goto("/login")
    intern.fill("input[name=username]", "stagiair")
    intern.fill("input[name=password]", new_password)
    intern.click("form[action='/login'] button[type=submit]")
    intern.wait_for_load_state("networkidle")
    assert "/login" not in intern.url
    journey.shot(intern, "the intern logs in with the new password")

    listed = platform.cli("admin", "list")
    assert "stagiair\tincident_manager\tactive" in listed
    assert "beheerder\tadmin\tactive" in listed
    with sqlite3.connect(platform.data_dir / "dijkwacht.sqlite") as db:
        audited = db.execute(
            "SELECT action, actor FROM audit_log WHERE object_id = 'stagiair' ORDER BY seq"
        ).fetchall()
    assert ("user.role_changed", "beheerder") in audited
    assert ("user.password_reset", "beheerder") in audited
    assert "audit log intact" in platform.cli("audit", "verify")
