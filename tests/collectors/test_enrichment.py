"""Enrichment at ingest: context tables (and their errors), the stateless and stateful checks,
refresh of published tables, and the hook every collector applies between parse and spool."""

from __future__ import annotations

import json
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from collectors.context import ContextError, ContextTables, load_context
from collectors.context_refresh import ContextWatcher, publish_context
from collectors.enrichment import Enricher, enrich
from collectors.hooks import FAILED_TAG, EnrichHook, SafeEnrich
from collectors.http_ingest import ingest_ndjson
from collectors.parsers import get_parser
from collectors.sources import SupervisedSource
from collectors.spool import Spool
from collectors.tailer import FileTailer
from core.events import Event, get_field
from core.privacy.service import Pseudonymiser

KEY = b"test-key-for-pseudonyms-0123456789"
RECEIVED = datetime(2025, 2, 1, tzinfo=UTC)


def bsn(prefix: str) -> str:
    """A number passing the BSN 11-test (the last digit absorbs the remainder)."""
    total = sum(int(d) * w for d, w in zip(prefix, range(9, 1, -1), strict=True))
    last = total % 11
    assert last < 10, prefix
    return f"{prefix}{last}"


RESIDENT, COLLEAGUE, PROTECTED = "111222333", bsn("12345678"), bsn("23456781")


def write_context(folder: Path, **overrides: str) -> Path:
    files = {
        "employees.csv": (
            "employee,role,state,bsn,surname,address\n"
            f"E1,burgerzaken,active,{COLLEAGUE},van der Berg,Dijkstraat 1\n"
            "E2,burgerzaken,deactivated,,Jansen,Kade 2\n"
        ),
        "cases.csv": (
            f"case_ref,employee,bsn,status\nZ-1,E1,{RESIDENT},open\nZ-2,E2,{RESIDENT},closed\n"
        ),
        "roles.csv": "role,record_type\nburgerzaken,persoonslijst\n",
        "protected.csv": f"bsn\n{PROTECTED}\n",
        "residents.csv": f"bsn,surname,address\n{RESIDENT},Berg,Dijkstraat 1\n",
        "networks.csv": "cidr,kind,label\n203.0.113.0/24,anonymising,tor\n",
        "geo.csv": (
            "cidr,country,city,lat,lon\n"
            "192.0.2.0/24,NL,Amsterdam,52.37,4.90\n"
            "198.51.100.0/24,US,New York,40.71,-74.01\n"
        ),
        "office.json": json.dumps(
            {
                "timezone": "Europe/Amsterdam",
                "start": "08:00",
                "end": "18:00",
                "mail_domains": ["gemeente.example"],
            }
        ),
    }
    files.update(overrides)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture
def tables(tmp_path: Path) -> ContextTables:
    return load_context(directory=write_context(tmp_path / "ctx"), key=KEY)


def pseudonym(number: str) -> str:
    return Pseudonymiser(KEY).pseudonym(number, field="bsn")


def audit_record(
    *, actor: str = "E1", subject: str = RESIDENT, at: str = "2025-01-31T09:15:00+01:00"
) -> bytes:
    """One line of the municipal app-audit log (JSON) as the source system writes it."""
    record = {
        "time": at,
        "system": "brp",
        "actor": actor,
        "action": "view",
        "subject": subject,
        "record_type": "persoonslijst",
        "result": "success",
    }
    return orjson.dumps(record)


def audit_event(**fields: str) -> Event:
    parser = get_parser("app-audit-json", pseudonymiser=Pseudonymiser(KEY))
    return parser.parse(audit_record(**fields), received_at=RECEIVED, source="test")


def login(*, user: str, ip: str, at: str, session: str = "s1", agent: str = "Firefox") -> Event:
    return {
        "@timestamp": at,
        "event": {"dataset": "portal.auth", "action": "login", "outcome": "success"},
        "user": {"id": user},
        "source": {"ip": ip},
        "user_agent": {"original": agent},
        "dijkwacht": {"session": {"id": session}},
    }


# -- context tables ------------------------------------------------------------------------------


def test_context_tables_load_with_bsns_pseudonymised(tables: ContextTables) -> None:
    assert tables.employees["E1"].subject == pseudonym(COLLEAGUE)
    assert tables.employees["E2"].state == "deactivated"
    assert tables.open_cases == frozenset({("E1", pseudonym(RESIDENT))})  # closed case left out
    assert tables.role_record_types == {"burgerzaken": frozenset({"persoonslijst"})}
    assert tables.protected == frozenset({pseudonym(PROTECTED)})
    assert tables.geo.lookup("192.0.2.77").city == "Amsterdam"
    assert tables.anonymising.lookup("203.0.113.9") is True
    assert tables.anonymising.lookup("192.0.2.1") is None
    assert tables.mail_domains == frozenset({"gemeente.example"})
    assert RESIDENT not in repr(tables)  # only pseudonyms and keyed hashes are kept


@pytest.mark.parametrize(
    ("name", "text", "where"),
    [
        (
            "employees.csv",
            "employee,role,state\nE1,r,active\nE2,r,retired\n",
            "employees.csv:3: state:",
        ),
        (
            "cases.csv",
            "case_ref,employee,status\nZ-1,E1,open\n",
            "cases.csv:1: header lacks column(s) bsn",
        ),
        ("cases.csv", "case_ref,employee,bsn,status\nZ-1,E1,123456789,open\n", "cases.csv:2:"),
        (
            "networks.csv",
            "cidr,kind\n10.0.0.0/8,anonymising\nnot-a-net,anonymising\n",
            "networks.csv:3: cidr:",
        ),
        (
            "geo.csv",
            "cidr,country,city,lat,lon\n192.0.2.0/24,NL,A,north,4\n",
            "geo.csv:2: lat/lon:",
        ),
        ("roles.csv", "role,record_type\n,persoonslijst\n", "roles.csv:2: role: is required"),
        ("office.json", '{"start": "25:99"}', "office.json:"),
    ],
)
def test_context_errors_name_file_and_line(
    tmp_path: Path, name: str, text: str, where: str
) -> None:
    folder = write_context(tmp_path / "ctx", **{name: text})
    with pytest.raises(ContextError) as caught:
        load_context(directory=folder, key=KEY)
    assert str(caught.value).startswith(where), str(caught.value)
    assert "123456789" not in str(caught.value)  # a bad BSN is never echoed


def test_missing_context_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ContextError, match="does not exist"):
        load_context(directory=tmp_path / "absent", key=KEY)


# -- stateless enrichment ------------------------------------------------------------------------


def test_audit_access_fields(tables: ContextTables) -> None:
    event = enrich(audit_event(), tables)
    assert get_field(event, "dijkwacht.case.open_for_subject") is True
    assert get_field(event, "dijkwacht.actor.account_state") == "active"
    assert get_field(event, "dijkwacht.actor.role_permits_record_type") is True
    assert get_field(event, "dijkwacht.time.outside_office_hours") is False
    assert get_field(event, "dijkwacht.subject.protected") is False
    assert get_field(event, "dijkwacht.subject.is_colleague") is False
    assert get_field(event, "dijkwacht.subject.same_surname_as_actor") is True  # "van der Berg"
    assert get_field(event, "dijkwacht.subject.same_address_as_actor") is True


def test_audit_access_without_case_at_night_by_deactivated_account(tables: ContextTables) -> None:
    event = enrich(audit_event(actor="E2", at="2025-02-01T23:30:00+01:00"), tables)
    assert get_field(event, "dijkwacht.case.open_for_subject") is False  # only a closed case
    assert get_field(event, "dijkwacht.actor.account_state") == "deactivated"
    assert get_field(event, "dijkwacht.time.outside_office_hours") is True
    colleague = enrich(audit_event(actor="E2", subject=COLLEAGUE), tables)
    assert get_field(colleague, "dijkwacht.subject.is_colleague") is True
    protected = enrich(audit_event(subject=PROTECTED), tables)
    assert get_field(protected, "dijkwacht.subject.protected") is True


def test_unknown_actor_leaves_role_question_unanswered(tables: ContextTables) -> None:
    event = enrich(audit_event(actor="E999"), tables)
    assert get_field(event, "dijkwacht.actor.account_state") == "unknown"
    assert get_field(event, "dijkwacht.actor.role_permits_record_type") is None


def test_source_geo_anonymising_dns_and_mail(tables: ContextTables) -> None:
    event = enrich(login(user="u", ip="203.0.113.5", at="2025-01-31T09:00:00+00:00"), tables)
    assert get_field(event, "dijkwacht.source.anonymising_network") is True
    placed = enrich(login(user="u", ip="192.0.2.5", at="2025-01-31T09:00:00+00:00"), tables)
    assert get_field(placed, "source.geo.country_iso_code") == "NL"
    assert get_field(placed, "source.geo.location") == [4.90, 52.37]
    dns = enrich({"dns": {"question": {"name": "a.b.Tunnel.example."}}}, tables)
    assert get_field(dns, "dns.question.registered_domain") == "tunnel.example"
    mail: Event = {
        "event": {"dataset": "mail.audit"},
        "email": {"to": {"address": ["x@sub.gemeente.example", "me@mailbox.example"]}},
    }
    assert get_field(enrich(mail, tables), "dijkwacht.mail.forward_external") is True


# -- stateful enrichment -------------------------------------------------------------------------


def test_impossible_travel(tables: ContextTables) -> None:
    enricher = Enricher(context=tables)
    first = enricher.enrich(login(user="u1", ip="192.0.2.1", at="2025-01-31T09:00:00+00:00"))
    assert get_field(first, "dijkwacht.auth.impossible_travel") is None  # the baseline
    hop = enricher.enrich(login(user="u1", ip="198.51.100.1", at="2025-01-31T10:00:00+00:00"))
    assert get_field(hop, "dijkwacht.auth.impossible_travel") is True
    assert get_field(hop, "dijkwacht.auth.travel_speed_kmh") > 5000
    slow = enricher.enrich(login(user="u1", ip="192.0.2.1", at="2025-02-02T10:00:00+00:00"))
    assert get_field(slow, "dijkwacht.auth.impossible_travel") is False
    other = enricher.enrich(login(user="u2", ip="198.51.100.1", at="2025-01-31T10:00:00+00:00"))
    assert get_field(other, "dijkwacht.auth.impossible_travel") is None  # per account


def test_session_reuse_from_another_client(tables: ContextTables) -> None:
    enricher = Enricher(context=tables)
    at = "2025-01-31T09:00:00+00:00"
    first = enricher.enrich(login(user="u", ip="192.0.2.1", at=at, session="S"))
    assert get_field(first, "dijkwacht.session.client_changed") is False
    same = enricher.enrich(login(user="u", ip="192.0.2.2", at=at, session="S"))
    assert get_field(same, "dijkwacht.session.client_changed") is False
    stolen = enricher.enrich(login(user="u", ip="192.0.2.2", at=at, session="S", agent="curl"))
    assert get_field(stolen, "dijkwacht.session.client_changed") is True


def test_stateful_memory_is_capped(tables: ContextTables) -> None:
    enricher = Enricher(context=tables, max_tracked=2)
    at = "2025-01-31T09:00:00+00:00"
    for session in ("A", "B", "C"):
        enricher.enrich(login(user=session, ip="192.0.2.1", at=at, session=session))
    assert len(enricher._sessions) == 2 and len(enricher._logins) == 2
    # "A" was forgotten (oldest): its next request is a new baseline, not a reuse alarm.
    again = enricher.enrich(login(user="A", ip="192.0.2.1", at=at, session="A", agent="curl"))
    assert get_field(again, "dijkwacht.session.client_changed") is False


# -- refresh -------------------------------------------------------------------------------------


def test_watcher_and_hook_pick_up_a_republished_export(tmp_path: Path) -> None:
    source = write_context(tmp_path / "export")
    target = tmp_path / "data" / "context"
    version = publish_context(source=source, target=target, key=KEY)
    assert publish_context(source=source, target=target, key=KEY) == version  # idempotent
    now = [0.0]
    hook = EnrichHook(watcher=ContextWatcher(directory=target, key=KEY), clock=lambda: now[0])
    assert hook.watcher.tables.version == version
    assert get_field(hook(audit_event()), "dijkwacht.subject.protected") is False

    (source / "protected.csv").write_text(f"bsn\n{RESIDENT}\n", encoding="utf-8")
    newer = publish_context(source=source, target=target, key=KEY)
    assert newer != version
    # Not before the poll interval has passed, then without a restart.
    assert get_field(hook(audit_event()), "dijkwacht.subject.protected") is False
    now[0] += 10
    assert get_field(hook(audit_event()), "dijkwacht.subject.protected") is True
    assert hook.watcher.poll() is False  # nothing newer


def test_broken_export_is_not_published(tmp_path: Path) -> None:
    source = write_context(tmp_path / "export")
    target = tmp_path / "data" / "context"
    version = publish_context(source=source, target=target, key=KEY)
    broken = "case_ref,employee,bsn,status\nZ,E1,bad,open\n"
    (source / "cases.csv").write_text(broken, encoding="utf-8")
    with pytest.raises(ContextError, match=r"cases\.csv:2"):
        publish_context(source=source, target=target, key=KEY)
    assert (target / "VERSION").read_text().strip() == version


# -- the hook in the collectors ------------------------------------------------------------------


def exploding(event: Event) -> Event:
    event.setdefault("dijkwacht", {})["time"] = {"outside_office_hours": True}
    raise KeyError("table row vanished")


def test_failed_enrichment_keeps_the_event_unenriched_and_tagged() -> None:
    hook = SafeEnrich(exploding)
    event = hook({"@timestamp": "2025-01-31T09:00:00Z", "tags": ["x"], "dijkwacht": {}})
    assert event["tags"] == ["x", FAILED_TAG]
    assert get_field(event, "dijkwacht.time.outside_office_hours") is None  # half-work undone
    hook({"@timestamp": "2025-01-31T09:00:00Z"})
    assert hook.failures == 2


def pending(spool: Spool) -> list[dict[str, Any]]:
    return [event for _id, event in spool.take(100)]


def test_tailer_and_http_ingest_apply_the_hook(tmp_path: Path, tables: ContextTables) -> None:
    hook = SafeEnrich(Enricher(context=tables).enrich)
    log = tmp_path / "audit.jsonl"
    log.write_bytes(audit_record() + b"\n")
    with Spool(tmp_path / "spool.sqlite") as spool:
        parser = get_parser("app-audit-json", pseudonymiser=Pseudonymiser(KEY))
        tailer = FileTailer(path=log, parser=parser, spool=spool, enrich=hook)
        assert tailer.poll() == 1
        tailer.close()
        body = b'{"timestamp": "2025-01-31T09:00:00Z", "dns": "x"}\n'
        body += orjson.dumps(login(user="u", ip="203.0.113.5", at="2025-01-31T09:00:00+00:00"))
        result = ingest_ndjson(
            spool=spool,
            source="portal",
            body=body,
            max_line_bytes=1024,
            received_at=RECEIVED,
            peer="http://127.0.0.1",
            enrich=hook,
        )
        assert result.accepted == 2
        events = pending(spool)
    by_dataset = {get_field(e, "event.dataset"): e for e in events}
    assert len(events) == 3
    assert get_field(by_dataset["app_audit.brp"], "dijkwacht.case.open_for_subject") is True
    assert get_field(by_dataset["portal.auth"], "dijkwacht.source.anonymising_network") is True


def test_tailer_stores_events_whose_enrichment_failed(tmp_path: Path) -> None:
    log = tmp_path / "app.jsonl"
    log.write_text('{"timestamp": "2025-01-31T09:00:00Z", "msg": "hello"}\n', encoding="utf-8")
    with Spool(tmp_path / "spool.sqlite") as spool:
        tailer = FileTailer(
            path=log, parser=get_parser("json"), spool=spool, enrich=SafeEnrich(exploding)
        )
        assert tailer.poll() == 1
        tailer.close()
        (event,) = pending(spool)
    assert FAILED_TAG in event["tags"]


def test_a_crashing_source_is_restarted_with_backoff() -> None:
    stop = threading.Event()
    runs: list[float] = []

    def flaky(stop: threading.Event) -> None:
        runs.append(time.monotonic())
        if len(runs) <= 2:
            raise RuntimeError("disk went away")
        stop.wait()

    source = SupervisedSource("flaky", flaky, stop, min_backoff=0.05, max_backoff=1.0)
    source.start()
    deadline = time.monotonic() + 5
    while len(runs) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    stop.set()
    assert source.join(5)
    assert len(runs) == 3 and source.crashes == 2
    assert source.last_error == "RuntimeError: disk went away"
    assert runs[2] - runs[1] >= runs[1] - runs[0] >= 0.05  # the back-off grows


def test_syslog_server_applies_the_hook_and_keeps_failed_events(tmp_path: Path) -> None:
    import asyncio

    from collectors.runtime import serve_collectors
    from core.config import load_settings
    from core.store.base import EventQuery
    from core.store.sqlite_events import SqliteEventStore
    from tests.collectors.net import rfc5424, wait_for
    from tests.processes import free_port

    settings = load_settings(
        data_dir=tmp_path, environment="test", syslog_port=free_port(), ingest_batch_size=10
    )
    ready = threading.Event()
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    ports: dict[str, int] = {}

    def on_ready(bound: dict[str, int]) -> None:
        ports.update(bound)
        ready.set()

    serve = serve_collectors(
        settings=settings, on_batch=None, stop=stop, on_ready=on_ready, enrich=SafeEnrich(exploding)
    )
    thread = threading.Thread(target=loop.run_until_complete, args=(serve,))
    thread.start()
    try:
        assert ready.wait(10)
        import socket

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(rfc5424(1), ("127.0.0.1", ports["udp"]))

        def tagged() -> bool:
            with SqliteEventStore(settings.event_db_path) as store:
                found = store.search(EventQuery(filters={"event.dataset": "syslog"}))
            return any(FAILED_TAG in item.event.get("tags", []) for item in found)

        wait_for(tagged, what="the un-enriched syslog event in the store")
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(20)
        loop.close()
