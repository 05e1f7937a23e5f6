"""auth.log parsing against fail2ban's annotated samples, plus the messages they lack."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from collectors.parsers import AuthLogParser, ParseError
from tests.collectors.support import assert_ecs, corpus_file

# fail2ban's samples have no year; "latest year not in the future" from the end of 2005.
RECEIVED = datetime(2005, 12, 31, 23, 0, tzinfo=UTC)

# Lines fail2ban flags whose source we cannot read from the line alone: fail2ban links them to
# an earlier line of the same sshd pid (multi-line matching), or the wording carries no
# address, or a user name with spaces hides the address (an injection test).
NO_SOURCE_IN_LINE = (
    "Disconnecting: Too many authentication failures",
    "fatal: Read from socket failed",
    "kex_exchange_identification",
    "fatal: Unable to negotiate a key exchange method",
    "fatal: no matching mac found",
    "Timeout before authentication for connection from",
    "banner exchange:",
    "ssh_dispatch_run_fatal:",
    "Connection closed by authenticating user test 127.0.0.1",  # injected user name
    "kernel:[",  # a kernel-prefixed copy of an sshd line
    "[825] Jul",  # dropbear's own inner timestamp format
    "[826] Jul",
)
# A 5424 line in fail2ban/sshd has `test="[brackets]"`: an unescaped `]` in an SD value, which
# RFC 5424 forbids (go-syslog vectors 108-110 agree); it is refused and dead-lettered.
REFUSED = ('[xxx@123 test="[brackets]"]',)


def _samples(name: str) -> list[tuple[dict | None, bytes]]:
    samples: list[tuple[dict | None, bytes]] = []
    expected = None
    for line in corpus_file(f"fail2ban/{name}").read_bytes().splitlines():
        if line.startswith(b"# failJSON:"):
            expected = json.loads(line[len(b"# failJSON:") :])
        elif line.strip() and not line.startswith(b"#"):
            samples.append((expected, line))
            expected = None
    return samples


@pytest.mark.parametrize("name", ["sshd", "sshd-journal", "pam-generic", "dropbear"])
def test_fail2ban_samples(name: str) -> None:
    parser = AuthLogParser(tz=UTC)
    recognised = 0
    samples = _samples(name)
    for expected, line in samples:
        text = line.decode("utf-8", errors="replace")
        if any(marker in text for marker in REFUSED):
            with pytest.raises(ParseError):
                parser.parse(line, received_at=RECEIVED, source="t")
            continue
        event = assert_ecs(parser.parse(line, received_at=RECEIVED, source="t"))
        recognised += "action" in event["event"]
        if not expected or not expected.get("match") or not expected.get("host"):
            continue
        if any(marker in text for marker in NO_SOURCE_IN_LINE):
            continue
        source = event.get("source", {})
        assert expected["host"] in (source.get("ip"), source.get("domain")), text
        if "time" in expected and text[:3].isalpha():
            assert event["@timestamp"][5:19] == expected["time"][5:19]
    assert recognised >= 0.7 * len(samples)


def _one(line: str) -> dict:
    return assert_ecs(
        AuthLogParser(tz=UTC).parse(line.encode(), received_at=RECEIVED, source="file:auth.log")
    )


def test_accepted_publickey() -> None:
    event = _one(
        "Mar  1 10:00:00 bastion sshd[811]: Accepted publickey for jan from 198.51.100.7 "
        "port 50022 ssh2: ED25519 SHA256:abc"
    )
    assert event["event"]["action"] == "ssh_login"
    assert event["event"]["outcome"] == "success"
    assert event["event"]["category"] == ["authentication"]
    assert event["user"]["name"] == "jan"
    assert event["source"] == {"address": "198.51.100.7", "ip": "198.51.100.7", "port": 50022}
    assert event["process"] == {"name": "sshd", "pid": 811}
    assert event["host"]["hostname"] == "bastion"
    assert event["event"]["dataset"] == "system.auth"


def test_failed_password_invalid_user_ipv4_mapped() -> None:
    event = _one(
        "Mar  1 10:00:00 h sshd[1]: Failed password for invalid user admin from "
        "::ffff:192.0.2.5 port 2222 ssh2"
    )
    assert event["event"]["outcome"] == "failure"
    assert event["user"]["name"] == "admin"
    assert event["source"]["ip"] == "192.0.2.5"


def test_sudo_success_and_failure() -> None:
    event = _one(
        "Mar  1 10:00:00 h sudo:    piet : TTY=pts/0 ; PWD=/home/piet ; USER=root ; "
        "COMMAND=/usr/bin/systemctl restart nginx"
    )
    assert event["event"]["action"] == "sudo"
    assert event["event"]["outcome"] == "success"
    assert event["user"]["name"] == "piet"
    assert event["user"]["effective"]["name"] == "root"
    assert event["process"]["command_line"] == "/usr/bin/systemctl restart nginx"
    assert event["process"]["working_directory"] == "/home/piet"
    event = _one(
        "Mar  1 10:00:00 h sudo:  klaas : user NOT in sudoers ; TTY=pts/1 ; PWD=/ ; "
        "USER=root ; COMMAND=/bin/sh"
    )
    assert event["event"]["outcome"] == "failure"
    assert event["event"]["reason"] == "user NOT in sudoers"


def test_sessions_su_and_account_changes() -> None:
    opened = _one(
        "Mar  1 10:00:00 h su[9]: pam_unix(su:session): session opened for user root(uid=0) "
        "by piet(uid=1000)"
    )
    assert opened["event"]["action"] == "session_opened"
    assert opened["event"]["category"] == ["session"]
    assert opened["user"]["name"] == "root"
    assert opened["related"]["user"] == ["root", "piet"]
    su = _one("Mar  1 10:00:00 h su[9]: FAILED su for root by piet")
    assert (su["event"]["outcome"], su["user"]["target"]["name"]) == ("failure", "root")
    created = _one(
        "Mar  1 10:00:00 h useradd[7]: new user: name=test, UID=1001, GID=1001, "
        "home=/home/test, shell=/bin/bash"
    )
    assert created["event"]["category"] == ["iam"]
    assert created["event"]["type"] == ["user", "creation"]
    assert created["user"]["target"] == {"name": "test", "id": "1001"}
    changed = _one(
        "Mar  1 10:00:00 h passwd[8]: pam_unix(passwd:chauthtok): password changed for test"
    )
    assert changed["event"]["action"] == "password_changed"


def test_unrecognised_message_is_still_an_event() -> None:
    event = _one("Mar  1 10:00:00 h systemd-logind[5]: New session 3 of user piet.")
    assert "action" not in event["event"]
    assert event["message"] == "New session 3 of user piet."


def test_line_without_time_or_tag_is_refused() -> None:
    with pytest.raises(ParseError):
        AuthLogParser().parse(b"hello world", received_at=RECEIVED, source="t")
