"""Every kind of relational writer at once on one SQLite file: nothing locked escapes, nothing lost.

Threads run for a few seconds side by side, each the way its boundary runs it in production:
audited reads (a read transaction that has already read, then `audit_read`: the path that
used to upgrade and fail at once), web-session touches through the dashboard's request path,
detection batches (windows, counters, outbox and delivery), and ordinary service writes in a
unit of work. Afterwards every write is counted in the database and the audit chain verifies.
"""

from __future__ import annotations

import textwrap
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from argon2 import PasswordHasher
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from starlette.requests import Request

from core.accounts import Role, create_user
from core.accounts.models import User
from core.accounts.sessions import ActiveSession, look_up_session, start_session
from core.audit import AuditEntry, verify
from core.clock import FrozenClock
from core.config import Settings
from core.privacy.service import audit_read
from core.store.base import AlertQuery
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.sqlite_alerts import SqliteAlertStore
from core.store.unit_of_work import unit_of_work
from dashboard.security import SESSION_COOKIE, Principal, web_session
from detection.correlation_store import load_engine
from detection.stream import load_detector, run_batch

SECONDS = 3.0
MIN_STEPS = 3
START = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
FAST = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
RULE = """
title: Whoami
id: 11111111-2222-3333-4444-555555555555
status: test
level: high
logsource: {product: windows, category: process_creation}
detection:
  selection:
    Image|endswith: '\\whoami.exe'
  condition: selection
"""
BATCH = [
    {"Image": "C:\\Windows\\whoami.exe", "CommandLine": "whoami"},
    {"Image": "C:\\Windows\\cmd.exe", "CommandLine": "cmd /c dir"},
]
PRINCIPAL = Principal(1, "ana", "Ana", Role.ANALYST, "session", None, None)


class Workers:
    """Runs each loop in its own thread until the deadline; keeps every error it raised."""

    def __init__(self) -> None:
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []
        self.deadline = 0.0

    def add(self, loop: Callable[[int], None]) -> None:
        def target() -> None:
            step = 0
            try:
                # Past the deadline only until this loop ran MIN_STEPS times: on a loaded
                # machine a slow loop (a detection batch) must still overlap the others.
                while time.monotonic() < self.deadline or step < MIN_STEPS:
                    loop(step)
                    step += 1
            except BaseException as exc:
                self.errors.append(exc)

        self.threads.append(threading.Thread(target=target, daemon=True))

    def run(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds
        for thread in self.threads:
            thread.start()
        for thread in self.threads:
            thread.join(timeout=seconds + 60)
            assert not thread.is_alive(), "a writer hung"


def _request(session_id: str) -> Request:
    cookie = f"{SESSION_COOKIE}={session_id}".encode()
    return Request({"type": "http", "headers": [(b"cookie", cookie)], "state": {}})


def _start_sessions(sessions: sessionmaker[Session], count: int) -> list[ActiveSession]:
    with unit_of_work(sessions) as db:
        create_user(db=db, username="ana", password="x" * 12, role=Role.ANALYST,
                    clock=FrozenClock(START), hasher=FAST)  # fmt: skip
    with unit_of_work(sessions) as db:
        user = db.scalars(select(User)).one()
        return [start_session(db=db, user=user, clock=FrozenClock(START)) for _ in range(count)]


def test_concurrent_writers_on_sqlite_lose_nothing_and_never_see_locked(
    settings: Settings, tmp_path: Path
) -> None:
    migrate(settings)
    engine = create_db_engine(settings)
    sessions = create_session_factory(engine)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "whoami.yml").write_text(textwrap.dedent(RULE), encoding="utf-8")
    detector = load_detector(paths=[rules])
    web_sessions = _start_sessions(sessions, 2)
    workers = Workers()
    done: dict[str, list[int]] = {"reads": [], "users": [], "batches": []}
    touched: dict[str, datetime] = {}

    def audited_read(name: str) -> Callable[[int], None]:
        def loop(step: int) -> None:
            with unit_of_work(sessions, write=False) as db:
                db.scalar(select(func.count()).select_from(AuditEntry))  # the read comes first
                audit_read(
                    db=db,
                    clock=FrozenClock(START),
                    principal=PRINCIPAL,
                    object_type="alert",
                    object_id=f"{name}-{step}",
                    purpose=None,
                )
            done["reads"].append(step)

        return loop

    def session_touch(active: ActiveSession) -> Callable[[int], None]:
        def loop(step: int) -> None:
            # A touch is due each step, up to 10 hours in: a session's absolute life is 12 hours,
            # and with faster writers the loop can run past that within SECONDS.
            clock = FrozenClock(START + timedelta(minutes=2 * (min(step, 300) + 1)))
            found = web_session(_request(active.session_id), sessions, clock)
            assert found is not None
            touched[active.session_id] = clock.now()

        return loop

    def service_write(step: int) -> None:
        with unit_of_work(sessions) as db:
            create_user(db=db, username=f"user{step}", password="x" * 12, role=Role.ANALYST,
                        clock=FrozenClock(START), hasher=FAST)  # fmt: skip
        done["users"].append(step)

    alerts = SqliteAlertStore(settings.alert_db_path, clock=FrozenClock(START))
    with sessions() as db:
        windows = load_engine(db=db, specs=detector.correlations)

    def detection(step: int) -> None:
        run_batch(
            events_with_ids=[(f"b{step}-{n}", event) for n, event in enumerate(BATCH)],
            detector=detector,
            alert_store=alerts,
            correlation_state=windows,
            sessions=sessions,
            clock=FrozenClock(START),
        )
        done["batches"].append(step)

    for name in ("r1", "r2", "r3"):
        workers.add(audited_read(name))
    for active in web_sessions:
        workers.add(session_touch(active))
    workers.add(service_write)
    workers.add(detection)
    try:
        workers.run(SECONDS)
        assert workers.errors == []
        assert all(len(done[kind]) >= MIN_STEPS for kind in done), done  # each kind really ran
        with sessions() as db:
            by_action = select(AuditEntry.action, func.count()).group_by(AuditEntry.action)
            actions = {action: n for action, n in db.execute(by_action)}
            assert actions["data.read"] == len(done["reads"])
            assert actions["user.created"] == len(done["users"]) + 1  # + the sessions' user
            assert db.scalar(select(func.count()).select_from(User)) == len(done["users"]) + 1
            assert verify(db=db).ok
            for active in web_sessions:
                now = touched[active.session_id]
                seen = look_up_session(db=db, session_id=active.session_id, clock=FrozenClock(now))
                assert seen.session is not None and not seen.stale  # the last touch is stored
        stored = alerts.search(AlertQuery(limit=1000))
        assert len(stored) == len(done["batches"])  # one whoami match per batch, none twice
    finally:
        alerts.close()
        engine.dispose()
