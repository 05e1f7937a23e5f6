"""What each role sees first after logging in: its own short list of things waiting.

Composition only: every number comes from a domain's service or a store's capped count, so
a home page stays cheap enough to be the landing page of every login.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from compliance.service import measure_views
from core.accounts.models import Role
from core.clock import Clock
from core.config import Settings
from core.privacy.service import list_requests
from core.store.base import ALERT_LEVELS, AlertQuery, AlertStatus, AlertStore, StoredAlert
from dashboard.services.ops import collector_health
from drills.service import actions_of_owner, list_exercises, list_schedules
from playbooks.breach.service import all_deadlines, list_breaches
from playbooks.models import PlaybookRun, RunStep
from playbooks.service import overdue_steps

COUNT_CAP = 10_000
OPEN_STATUSES: tuple[AlertStatus, ...] = ("new", "acknowledged", "assigned")


@dataclass(slots=True)
class Home:
    """The blocks of one role's home page; a block the role does not have stays empty."""

    role: str
    now: datetime
    new_by_level: dict[str, int] = field(default_factory=dict)
    my_alerts: list[StoredAlert] = field(default_factory=list)
    approvals: list[dict[str, Any]] = field(default_factory=list)
    over_sla: list[dict[str, Any]] = field(default_factory=list)
    deadlines: list[Any] = field(default_factory=list)
    reidentification: list[Any] = field(default_factory=list)
    running: list[Any] = field(default_factory=list)
    upcoming: list[Any] = field(default_factory=list)
    sources: list[Any] = field(default_factory=list)
    silent: list[Any] = field(default_factory=list)
    compliance: list[Any] = field(default_factory=list)
    spool_pending: int = 0
    proposed: list[Any] = field(default_factory=list)
    followups: list[Any] = field(default_factory=list)


def role_home(
    *,
    role: Role,
    username: str,
    db: Session,
    display_name: str = "",
    alerts: AlertStore,
    clock: Clock,
    settings: Settings,
) -> Home:
    """Gather what `role` needs first; reads only, and no personal data (ids, counts, titles)."""
    home = Home(role=role.value, now=clock.now())
    if role in (Role.ANALYST, Role.INCIDENT_MANAGER):
        _alerts(home, alerts, username)
    if role == Role.INCIDENT_MANAGER:
        _playbooks(home, db, clock)
    if role == Role.DPO:
        _dpo(home, db, clock, settings)
    if role in (Role.CRISIS_TEAM, Role.EXERCISE_CONTROLLER):
        _drills(home, db)
    if role == Role.CRISIS_TEAM:
        _playbooks(home, db, clock)
    if role == Role.ADMIN:
        _collectors(home, settings, db)
    if role == Role.AUDITOR:
        _compliance(home, db)
    _followups(home, db, (username, display_name))
    return home


def _compliance(home: Home, db: Session) -> None:
    """The auditor's start: the BIO2 measures that are red or at risk, red first."""

    _, views = measure_views(db=db, framework="bio2")
    order = {"not_met": 0, "at_risk": 1, "not_evidenced": 2, "met": 3}
    home.compliance = sorted(views, key=lambda v: (order.get(v.status, 9), v.measure.id))


def _alerts(home: Home, store: AlertStore, username: str) -> None:
    for level in reversed(ALERT_LEVELS):
        query = AlertQuery(statuses=("new",), levels=(level,), limit=1)
        home.new_by_level[level] = store.count(query, cap=COUNT_CAP)
    mine = AlertQuery(statuses=OPEN_STATUSES, assignee=username, sort="severity", limit=10)
    home.my_alerts = store.search(mine)


def _playbooks(home: Home, db: Session, clock: Clock) -> None:

    waiting = db.execute(
        select(RunStep, PlaybookRun.incident_id)
        .join(PlaybookRun, PlaybookRun.id == RunStep.run_id)
        .where(RunStep.status == "awaiting_approval")
        .order_by(RunStep.id)
        .limit(50)
    ).all()
    home.approvals = [
        {
            "incident_id": incident_id,
            "title": step.title,
            "role": (step.spec.get("approval") or {}).get("role"),
            "requested_by": step.requested_by,
        }
        for step, incident_id in waiting
    ]
    home.over_sla = [
        {"incident_id": s.incident_id, "title": s.title, "due_at": s.due_at}
        for s in overdue_steps(db=db, clock=clock)[:50]
    ]


def _dpo(home: Home, db: Session, clock: Clock, settings: Settings) -> None:

    home.deadlines = all_deadlines(db=db, clock=clock, settings=settings)[:10]
    # Proposed by detection (or registered by hand) and not yet assessed: the DPO's next step.
    home.proposed = list_breaches(db=db, states=("registered",))[:20]
    home.reidentification = [
        r for r in list_requests(db=db) if r.current_status(home.now) == "pending"
    ]


def _drills(home: Home, db: Session) -> None:

    home.running = [e for e in list_exercises(db=db) if e.status in ("running", "paused")]
    planned = [s for s in list_schedules(db=db) if s.active and s.next_run_at is not None]
    home.upcoming = sorted(planned, key=lambda s: s.next_run_at or home.now)[:10]


def _followups(home: Home, db: Session, names: tuple[str, ...]) -> None:
    """Follow-up actions from exercise evaluations owned by this account, until done."""

    home.followups = actions_of_owner(db=db, names=names)[:20]


def _collectors(home: Home, settings: Settings, db: Session) -> None:

    health = collector_health(settings=settings, now=home.now, db=db)
    home.sources = health.sources
    home.silent = [s for s in health.sources if s.silent]
    home.spool_pending = health.spool_pending
