"""A technical drill through the real pipeline, exercise isolation, and rollback completeness.

Injected events go into the collectors' spool (through collectors.service), the spool consumer
stores them and runs detection, playbooks routing opens an exercise incident and starts its
playbook, the DPO opens an exercise breach, the automatic checks score it all, and the report
compares the frozen criteria with the results. Real SMTP and webhook receivers on 127.0.0.1
must get nothing but the exercise mailbox's own, marked e-mail. Rollback then leaves every
relational table and the event and alert stores as they were, apart from the kept report.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from collectors.consumer import SpoolConsumer
from collectors.spool import open_spool
from core.clock import SystemClock
from core.config import Settings, load_settings
from core.store.factory import open_alert_store, open_event_store
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.unit_of_work import unit_of_work
from dijkwacht.detection_runtime import DetectionHook
from drills import service
from drills.models import Outbox
from drills.rollback import exercise_artefacts
from playbooks.breach.register import open_from_incident
from playbooks.library import load_library
from playbooks.service import deliveries_of, route_new_alerts

EXERCISE_MAILBOX = "oefening@gemeente.test"
ROOT = Path(__file__).resolve().parents[2]
# The shipped rule the insider scenario's E1 names (its base rule included).
RULE = (ROOT / "detection" / "rules" / "privacy" / "many_residents_viewed.yml").read_text(
    encoding="utf-8"
)
RULE_ID = "b4a32e1e-d739-5e45-94a5-f8a04e7c911b"  # many_residents_viewed


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@contextmanager
def _receivers() -> Iterator[tuple[int, _Mailbox, int, list[bytes]]]:
    mailbox = _Mailbox()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        smtp_port = int(probe.getsockname()[1])
    controller = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    hooks: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            hooks.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield smtp_port, mailbox, server.server_address[1], hooks
    finally:
        server.shutdown()
        server.server_close()
        controller.stop()


def _snapshot(settings: Settings) -> dict[str, Any]:
    """Every relational table (all rows) and the event and alert store files."""
    engine = create_db_engine(settings)
    tables: dict[str, Any] = {}
    try:
        with engine.connect() as conn:
            for name in inspect(conn).get_table_names():
                rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
                tables[name] = sorted(repr(tuple(row)) for row in rows)
    finally:
        engine.dispose()
    for path in (settings.event_db_path, settings.alert_db_path):
        with sqlite3.connect(path) as conn:
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'events_fts%'"
            ):
                tables[f"{path.name}:{name}"] = sorted(
                    repr(r) for r in conn.execute(f'SELECT * FROM "{name}"')
                )
    return tables


@pytest.mark.slow
def test_technical_drill_end_to_end_isolated_and_rolled_back(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "drill.yml").write_text(RULE, encoding="utf-8")
    with _receivers() as (smtp_port, mailbox, hook_port, hooks):
        settings = load_settings(
            environment="test",
            data_dir=tmp_path / "data",
            detection_rules=[rules],
            smtp_port=smtp_port,
            notify_recipients={
                "exercise": [EXERCISE_MAILBOX],
                "dpo": ["fg-echt@gemeente.test"],
                "soc": ["soc-echt@gemeente.test"],
            },
            webhooks={"csirt": {"url": f"http://127.0.0.1:{hook_port}/hook", "secret": "x" * 32}},
        )
        migrate(settings)
        clock = SystemClock()
        engine = create_db_engine(settings)
        events, alerts = open_event_store(settings), open_alert_store(settings)
        hook = DetectionHook(settings=settings)
        spool = open_spool(settings)
        consumer = SpoolConsumer(spool=spool, store=events, batch_size=500, on_batch=hook)
        factory = create_session_factory(engine)

        def units() -> AbstractContextManager[Session]:
            return unit_of_work(factory)

        try:
            with factory() as db:
                before = _snapshot(settings)
                # Participants: two at the exercise mailbox, one at a real address (refused).
                participants = [
                    {"role": "fg", "name": "FG", "email": EXERCISE_MAILBOX},
                    {"role": "it", "name": "IT", "email": "it-echt@gemeente.test"},
                ]
                schedule = service.create_schedule(
                    db=db,
                    clock=clock,
                    scenario_id="insider-datalek",
                    mode="technical",
                    first_at=clock.now(),
                    controller="oefenleider",
                    participants=participants,
                    time_scale=60.0,
                )
                db.commit()  # the test is each boundary in turn: here `dijkwacht drills schedule`
                outcome = service.tick(
                    units=units,
                    clock=clock,
                    settings=settings,
                    alerts=alerts,
                    sink=service.spool_sink(settings),
                )
                assert outcome["schedules"][0].startswith("gestart: ")
                exercise_id = outcome["schedules"][0].split(": ")[1]
                assert outcome["released"][exercise_id] == ["I1"]
                db.commit()  # end this session's read snapshot (WAL) ...
                db.expire_all()  # ... and read what the tick's units of work wrote
                # The real pipeline: spool -> event store -> detection -> alerts.
                consumer.drain()
                stored = [a for a in alerts.search(service_query()) if a.exercise_id == exercise_id]
                assert stored and all(a.rule_id == RULE_ID for a in stored)
                results, _work = route_new_alerts(
                    db=db, clock=clock, store=alerts, playbooks=load_library()
                )
                assert results
                db.commit()  # playbooks.route_alerts
                found = exercise_artefacts(db=db, exercise_id=exercise_id)
                incident = found["incidents"][0]
                assert any(s["step"] == "secure-logs" for s in found["steps"])
                # The DPO (a player) opens the exercise breach assessment.
                breach = open_from_incident(
                    db=db,
                    clock=clock,
                    settings=settings,
                    actor="fg",
                    incident_id=str(incident["id"]),
                    summary="Oefening: mogelijk datalek door onrechtmatige inzage",
                    exercise_id=exercise_id,
                )
                assert breach.reference.startswith("OEF-")
                db.commit()  # the DPO's page
                for delivery in deliveries_of(db=db, incident_id=incident["id"]):
                    assert delivery.status != "sent"
                db.commit()  # nothing pending: ends the read snapshot of the loop above
                service.tick(units=units, clock=clock, settings=settings, alerts=alerts, sink=None)
                db.expire_all()
                marks = {
                    e.expectation_id: e
                    for e in service.expectations(db=db, exercise_id=exercise_id)
                }
                for key in ("E1", "E2", "E3", "E4"):
                    assert marks[key].status == "met", (key, marks[key].note)
                    assert marks[key].met_at is not None and marks[key].evidence
                service.mark_expectation(
                    db=db,
                    clock=clock,
                    exercise_id=exercise_id,
                    expectation_id="E5",
                    met=True,
                    note="AP-besluit vastgelegd",
                    actor="oefenleider",
                )
                service.record_entry(
                    db=db,
                    clock=clock,
                    exercise_id=exercise_id,
                    kind="hotwash",
                    text="Inzagelogs waren snel beschikbaar.",
                    author="ciso",
                )
                service.stop(db=db, clock=clock, exercise_id=exercise_id, actor="oefenleider")
                service.add_lesson(
                    db=db,
                    clock=clock,
                    exercise_id=exercise_id,
                    lesson="Belscript FG ontbrak",
                    action="Belscript maken",
                    owner="FG",
                    due_on=date(2026, 6, 1),
                )
                report = service.build_report(
                    db=db, clock=clock, exercise_id=exercise_id, actor="oefenleider"
                )
                assert report.pdf.startswith(b"%PDF")
                db.commit()  # the controller's pages
                assert (
                    "OEFENING / EXERCISE" in report.html
                    and "OEFENING / EXERCISE" in report.public_html
                )
                scored = {c["id"]: c for c in report.summary["criteria"]}
                assert scored["detect"]["passed"] and scored["decide"]["passed"]
                assert not scored["communicate"]["passed"]  # E6 was never done
                assert report.summary["criteria_intact"]
                assert (
                    "it-echt@gemeente.test" not in report.public_html
                    and "Belscript" in report.public_html
                )
                # Isolation: no webhook; mail only to the exercise mailbox, marked.
                assert hooks == []
                assert mailbox.messages, "the exercise mailbox gets its invitation"
                for recipients, message in mailbox.messages:
                    assert recipients == [EXERCISE_MAILBOX]
                    assert " ".join(str(message["Subject"]).split()).startswith(
                        "[OEFENING / EXERCISE]"
                    )
                    assert "DIT IS EEN OEFENING" in message.get_payload()
                refused = db.scalars(select(Outbox).where(Outbox.status == "refused")).all()
                assert {row.recipient for row in refused} == {"it-echt@gemeente.test"}
                # Rollback: everything as before, apart from the kept report.
                removed = service.rollback(
                    db=db,
                    clock=clock,
                    exercise_id=exercise_id,
                    events=events,
                    alerts=alerts,
                    actor="oefenleider",
                )
                db.commit()  # `dijkwacht drills rollback`: one unit of work
                assert (
                    removed["events"] == 45 and removed["alerts"] >= 1 and removed["incidents"] == 1
                )
                after = _snapshot(settings)
                # Kept: the report, its exercise record and lesson actions, the schedule with its
                # invitation mail log (no exercise id), and the append-only audit log.
                kept = {
                    "drill_exercises",
                    "drill_reports",
                    "drill_actions",
                    "drill_schedules",
                    "audit_log",
                }
                kept.add("drill_mail")
                assert all(", None, " in row[:12] for row in after["drill_mail"])
                for name in set(before) | set(after):
                    if name in kept:
                        continue
                    if (
                        name in ("alembic_version",)
                        # the event store's deletion counter (for cached histograms) counts
                        # the rolled-back events: bookkeeping, not exercise data
                        or name.endswith(":event_deletions")
                        or name.startswith("detection_")
                        or name.startswith("rule_")
                    ):
                        continue
                    assert before.get(name) == after.get(name), name
                assert len(after["drill_reports"]) == 1 and len(after["drill_exercises"]) == 1
                assert schedule.id
        finally:
            hook.close()
            spool.close()
            events.close()
            alerts.close()
            engine.dispose()


def service_query() -> Any:
    from core.store.base import AlertQuery

    return AlertQuery(exercise=True, limit=100)
