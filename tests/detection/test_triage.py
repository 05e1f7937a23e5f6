"""Alert triage as a service: the queue read, the detail read and bulk status changes, audited.

The page and the JSON API call these functions (tests/dashboard covers them over HTTP); here
they run on a real SQLite alert store and a migrated relational database, with the actor given
as plain values (no dashboard principal).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from core.accounts.models import Role
from core.audit import entries
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from core.privacy.service import PurposeRequired
from core.store.base import NewAlert
from core.store.relational import create_db_engine, create_session_factory, migrate
from core.store.sqlite_alerts import SqliteAlertStore
from core.store.sqlite_events import SqliteEventStore
from core.store.unit_of_work import unit_of_work
from detection.triage import (
    MAX_BULK,
    AssigneeCheck,
    QueueFilter,
    build_query,
    bulk_update,
    group_alerts,
    open_count,
    read_alert,
    read_queue,
)

T0 = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
RESIDENT = "rp_" + "a" * 32


@dataclass(frozen=True)
class Analyst:
    """Who reads, as plain values: what `core.privacy`'s read audit needs."""

    username: str = "ana"
    role: Role = Role.ANALYST
    via: str = "session"


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    migrate(settings)
    engine = create_db_engine(settings)
    yield create_session_factory(engine)
    engine.dispose()


@pytest.fixture
def store(settings: Settings) -> Iterator[SqliteAlertStore]:
    opened = SqliteAlertStore(settings.alert_db_path)
    yield opened
    opened.close()


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(T0)


def _alerts(
    store: SqliteAlertStore, *hosts: str, body: dict[str, object] | None = None
) -> list[str]:
    return store.add_batch(
        [
            NewAlert(
                rule_id="r1",
                rule_title="Rule one",
                level="high",
                created_at=T0 - timedelta(minutes=n),
                host_name=host,
                user_name="jdoe",
                body=body or {},
            )
            for n, host in enumerate(hosts)
        ]
    )


def _accounts(known: set[str]) -> AssigneeCheck:
    def check(username: str) -> str:
        if username not in known:
            raise ValidationError("assignee", f"no account named {username!r}")
        return username

    return check


def test_bulk_assign_checks_the_account_changes_all_and_audits_once(
    store: SqliteAlertStore, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = _alerts(store, "ws-1", "ws-2")
    with pytest.raises(ValidationError) as refused, unit_of_work(sessions) as db:
        bulk_update(
            store=store, db=db, clock=clock, actor="ana", ids=ids, action="assign",
            check_assignee=_accounts({"bob"}), assignee="nobody",
        )  # fmt: skip
    assert refused.value.field == "assignee"
    assert {a.status for a in store.search(build_query())} == {"new"}  # nothing changed

    with unit_of_work(sessions) as db:
        changed = bulk_update(
            store=store, db=db, clock=clock, actor="ana", ids=[*ids, ids[0], ""],
            action="assign", check_assignee=_accounts({"bob"}), assignee=" bob ",
        )  # fmt: skip
    assert changed == 2
    assert {(a.status, a.assignee) for a in store.search(build_query())} == {("assigned", "bob")}
    with sessions() as db:
        (entry,) = entries(db=db, actor="ana")
    assert entry.action == "alert.bulk_assign"
    assert entry.details == {"ids": ids, "assignee": "bob"}


def test_bulk_close_ignores_an_assignee_and_never_asks_about_it(
    store: SqliteAlertStore, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    (alert_id,) = _alerts(store, "ws-1")

    def no_call(username: str) -> str:
        raise AssertionError("only an assign checks the account")

    with unit_of_work(sessions) as db:
        bulk_update(
            store=store, db=db, clock=clock, actor="ana", ids=[alert_id], action="close",
            check_assignee=no_call, assignee="bob",
        )  # fmt: skip
    (alert,) = store.search(build_query())
    assert (alert.status, alert.assignee) == ("closed", None)
    with sessions() as db:
        (entry,) = entries(db=db, object_type="alert", object_id=alert_id)
    assert entry.action == "alert.bulk_close"


@pytest.mark.parametrize(
    ("ids", "action", "field"),
    [
        (["x"], "delete", "action"),
        (["", ""], "close", "ids"),
        ([f"id{n}" for n in range(MAX_BULK + 1)], "close", "ids"),
        (["x"], "assign", "assignee"),  # no assignee given
    ],
)
def test_bulk_refuses_bad_input_by_field(
    store: SqliteAlertStore,
    sessions: sessionmaker[Session],
    clock: FrozenClock,
    ids: list[str],
    action: str,
    field: str,
) -> None:
    with pytest.raises(ValidationError) as refused, unit_of_work(sessions) as db:
        bulk_update(
            store=store, db=db, clock=clock, actor="ana", ids=ids, action=action,
            check_assignee=_accounts(set()),
        )  # fmt: skip
    assert refused.value.field == field


def test_the_queue_is_an_audited_read_only_when_it_shows_personal_data(
    store: SqliteAlertStore, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    ids = _alerts(store, "ws-1", "ws-2", "ws-2")
    with sessions() as db:
        page, grouping = read_queue(
            store=store, db=db, clock=clock, reader=Analyst(), filters=QueueFilter(),
            accounts=False,
        )  # fmt: skip
        assert (page.total, grouping) == (3, None)
    with sessions() as db:
        assert entries(db=db) == []  # no account names shown, no resident: nothing written
    with sessions() as db:
        page, grouping = read_queue(
            store=store, db=db, clock=clock, reader=Analyst(via="token"),
            filters=QueueFilter(group="host"),
        )  # fmt: skip
        assert grouping is not None
        assert [(g.key, g.count) for g in grouping.groups] == [("ws-2", 2), ("ws-1", 1)]
    with sessions() as db:  # the entry was committed in its own write unit
        (entry,) = entries(db=db)
    assert (entry.actor, entry.action, entry.object_type) == ("ana", "data.read", "alert_list")
    assert entry.details["role"] == "analyst" and entry.details["via"] == "api-token"
    assert sorted(entry.details["ids"]) == sorted(ids)


def test_a_resident_in_a_shown_field_makes_the_queue_an_audited_read_naming_them(
    store: SqliteAlertStore, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    _alerts(store, f"portal-{RESIDENT}")
    with sessions() as db:
        read_queue(
            store=store, db=db, clock=clock, reader=Analyst(), filters=QueueFilter(),
            accounts=False,
        )  # fmt: skip
    with sessions() as db:
        (entry,) = entries(db=db)
    assert entry.details["subject_pseudonyms"] == [RESIDENT]


def test_the_detail_of_an_alert_naming_a_resident_needs_a_purpose(
    store: SqliteAlertStore, settings: Settings, sessions: sessionmaker[Session], clock: FrozenClock
) -> None:
    (alert_id,) = _alerts(store, "ws-1", body={"subject": RESIDENT, "event_ids": ["gone"]})
    events = SqliteEventStore(settings.event_db_path)
    try:
        with sessions() as db, pytest.raises(PurposeRequired):
            read_alert(
                store=store, events=events, db=db, clock=clock, reader=Analyst(),
                alert_id=alert_id, purpose=None,
            )  # fmt: skip
        with sessions() as db:
            assert entries(db=db) == []
        with sessions() as db:
            alert, matched = read_alert(
                store=store, events=events, db=db, clock=clock, reader=Analyst(),
                alert_id=alert_id, purpose="incident 12: who was affected",
            )  # fmt: skip
        with sessions() as db:
            (entry,) = entries(db=db)
    finally:
        events.close()
    assert alert.id == alert_id and matched.missing == ["gone"] and matched.events == []
    assert (entry.object_type, entry.object_id) == ("alert", alert_id)
    assert entry.purpose == "incident 12: who was affected"
    assert entry.details["subject_pseudonyms"] == [RESIDENT]


def test_open_count_and_grouping_read_the_store(store: SqliteAlertStore) -> None:
    ids = _alerts(store, "ws-1", "ws-1", "ws-2", "ws-3")
    store.update_status(ids[:1], status="acknowledged")
    store.update_status(ids[1:2], status="closed")
    assert open_count(store=store) == {
        "new": 2, "acknowledged": 1, "assigned": 0, "capped_at": 10_000,
    }  # fmt: skip
    grouping = group_alerts(store=store, query=build_query(), by="host", scan=3)
    assert grouping.scanned == 3 and grouping.partial
    with pytest.raises(ValidationError):
        group_alerts(store=store, query=build_query(), by="colour")  # type: ignore[arg-type]
