"""Auth messages over syslog get the fields the auth.log parser gives; host.name; tags; zones."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from collectors.parsers import AuthLogParser, ParseError, SyslogParser, get_parser, zone_options
from core.config import load_settings
from tests.collectors.support import assert_ecs, corpus_file

RECEIVED = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIELDS = ("event.action", "event.outcome", "user.name", "source.ip", "source.port")


def _get(event: dict, path: str) -> object:
    node: object = event
    for part in path.split("."):
        if not isinstance(node, dict):
            return None
        node = node.get(part)
    return node


def _syslog(raw: bytes, source: str = "udp://10.0.0.5:40000", **options: object) -> dict:
    parser = SyslogParser(tz=AMSTERDAM, **options)  # type: ignore[arg-type]
    return assert_ecs(parser.parse(raw, received_at=RECEIVED, source=source))


@pytest.mark.parametrize(
    "raw",
    [
        b"<38>Feb 29 10:00:00 web01 sshd[4711]: Failed password for root from 192.0.2.7"
        b" port 52113 ssh2",
        b"<38>1 2024-02-29T10:00:00Z web01 sshd 4711 - - Failed password for root from"
        b" 192.0.2.7 port 52113 ssh2",
        # rsyslog forwarding a message it received as RFC 5424: the tag has no colon.
        b"<38>Feb 29 10:00:00 web01 sshd[4711] Failed password for root from 192.0.2.7"
        b" port 52113 ssh2",
    ],
    ids=["rfc3164", "rfc5424", "rfc3164-tag-without-colon"],
)
def test_sshd_over_syslog_gets_user_source_action_and_host_name(raw: bytes) -> None:
    event = _syslog(raw)
    assert event["event"]["action"] == "ssh_login"
    assert event["event"]["outcome"] == "failure"
    assert event["event"]["dataset"] == "system.auth"
    assert event["user"]["name"] == "root"
    assert event["source"]["ip"] == "192.0.2.7"
    assert event["host"] == {"name": "web01", "hostname": "web01"}
    assert event["process"] == {"name": "sshd", "pid": 4711}


def test_same_fields_from_a_file_and_over_syslog() -> None:
    """Every sshd/PAM sample of fail2ban: the syslog path classifies as the file path does."""
    file_parser = AuthLogParser(tz=UTC)
    syslog_parser = SyslogParser(tz=UTC)
    compared = 0
    for line in corpus_file("fail2ban/sshd").read_bytes().splitlines():
        if not line.strip() or line.startswith(b"#") or line.startswith(b"<"):
            continue
        try:
            from_file = file_parser.parse(line, received_at=RECEIVED, source="file:x")
            over_syslog = syslog_parser.parse(b"<38>" + line, received_at=RECEIVED, source="t")
        except ParseError:  # lines the file parser refuses are tested elsewhere
            continue
        if "action" not in from_file["event"]:
            continue
        compared += 1
        for path in FIELDS:
            assert _get(over_syslog, path) == _get(from_file, path), (line, path)
    assert compared > 100


def test_sudo_and_su_over_syslog() -> None:
    sudo = _syslog(
        b"<85>Feb 29 10:00:00 web01 sudo: alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
        b" COMMAND=/bin/cat /etc/shadow"
    )
    assert sudo["event"]["action"] == "sudo"
    assert sudo["user"]["name"] == "alice"
    assert sudo["user"]["effective"]["name"] == "root"
    assert sudo["process"]["command_line"] == "/bin/cat /etc/shadow"
    su = _syslog(b"<86>Feb 29 10:00:00 web01 su[99]: FAILED su for root by bob")
    assert (su["event"]["action"], su["event"]["outcome"]) == ("su", "failure")
    assert su["user"]["name"] == "bob"


def test_other_programs_are_not_classified() -> None:
    event = _syslog(b"<30>Feb 29 10:00:00 web01 nginx[1]: Failed password for root from 1.2.3.4")
    assert "action" not in event["event"]
    assert event["event"]["dataset"] == "syslog"


def test_tag_without_colon_needs_a_pid() -> None:
    """A bare word after the hostname stays message text (go-syslog rfc3164-004 agrees)."""
    event = _syslog(b"<38>Feb 29 10:00:00 web01 sshd Failed password")
    assert "process" not in event
    assert event["message"] == "sshd Failed password"


def test_rfc3164_times_in_the_sender_zone() -> None:
    raw = b"<38>Feb 29 10:00:00 web01 cron[1]: job"
    assert _syslog(raw)["@timestamp"] == "2024-02-29T09:00:00.000Z"  # collector zone (CET)
    by_peer = _syslog(raw, zones={"10.0.0.5": UTC})
    assert by_peer["@timestamp"] == "2024-02-29T10:00:00.000Z"
    by_name = _syslog(raw, zones={"web01": ZoneInfo("America/New_York")})
    assert by_name["@timestamp"] == "2024-02-29T15:00:00.000Z"
    other_peer = _syslog(raw, source="tcp://[2001:db8::1]:514", zones={"10.0.0.5": UTC})
    assert other_peer["@timestamp"] == "2024-02-29T09:00:00.000Z"
    ipv6_peer = _syslog(raw, source="udp://2001:db8::1:514", zones={"2001:db8::1": UTC})
    assert ipv6_peer["@timestamp"] == "2024-02-29T10:00:00.000Z"


def test_sender_zones_come_from_the_settings(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        environment="test", data_dir=tmp_path, syslog_sender_timezones={"web01": "UTC"}
    )
    for name in ("syslog", "rfc3164", "authlog"):
        parser = get_parser(name, **zone_options(settings))
        event = parser.parse(
            b"<38>Feb 29 10:00:00 web01 sshd[1]: x", received_at=RECEIVED, source="t"
        )
        assert event["@timestamp"] == "2024-02-29T10:00:00.000Z", name


def test_authlog_sets_host_name() -> None:
    event = AuthLogParser(tz=UTC).parse(
        b"Feb 29 10:00:00 bastion sshd[1]: Accepted publickey for ops from 192.0.2.1 port 2 ssh2",
        received_at=RECEIVED,
        source="file:auth.log",
    )
    assert event["host"] == {"name": "bastion", "hostname": "bastion"}


def test_json_ecs_event_with_only_host_hostname_gets_host_name() -> None:
    parser = get_parser("json")
    raw = (
        b'{"@timestamp":"2024-02-29T10:00:00Z","event":{"kind":"event"},"host":{"hostname":"db01"}}'
    )
    event = parser.parse(raw, received_at=RECEIVED, source="file:x")
    assert event["host"] == {"hostname": "db01", "name": "db01"}
    kept = parser.parse(
        b'{"@timestamp":"2024-02-29T10:00:00Z","event":{},"host":{"hostname":"a","name":"A.x"}}',
        received_at=RECEIVED,
        source="file:x",
    )
    assert kept["host"]["name"] == "A.x"
