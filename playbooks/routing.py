"""Routing: turn alerts into incidents, grouping related alerts into one open incident.

Each playbook's trigger is a routing rule: it selects alerts (rule ids, tags, ATT&CK
techniques, minimum level, personal-data flag) and says how to group them (by rule, host,
user or resident pseudonym) within a window. The highest-priority matching playbook wins;
alerts no playbook selects are grouped by rule and host for an hour without a playbook. An
alert that falls within the window of an open incident with the same key attaches to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.clock import Clock
from core.store.base import AlertQuery, AlertStore, StoredAlert
from playbooks import observables
from playbooks.incidents import log, new_incident
from playbooks.models import Incident, IncidentAlert
from playbooks.runs import Enqueue, _advance, new_run
from playbooks.schemas import ALERT_LEVELS, SEVERITIES, LoadedPlaybook, RouteResult, Trigger

DEFAULT_TRIGGER = Trigger(rule_ids=("*",), group_by=("rule", "host"), window_minutes=60)
_LEVEL_TO_SEVERITY = {"informational": "low", "low": "low", "medium": "medium"}


def _tags(alert: StoredAlert) -> set[str]:
    raw = alert.body.get("tags") or []
    return {str(tag).lower() for tag in raw} if isinstance(raw, list) else set()


def _techniques(alert: StoredAlert) -> set[str]:
    found = set()
    for tag in _tags(alert):
        if tag.startswith("attack.t") and tag[8:9].isdigit():
            found.add(tag.removeprefix("attack.").upper())
    raw = alert.body.get("techniques") or []
    if isinstance(raw, list):
        found.update(str(item).upper() for item in raw)
    return found


def personal_data(alert: StoredAlert) -> bool:
    """Whether detection flagged the alert as touching personal data."""
    return bool(
        alert.body.get("personal_data")
        or observables.lookup(alert.body, "dijkwacht.personal_data")
        or observables.lookup(alert.body, "dijkwacht.subject.pseudonym")
    )


def matches(trigger: Trigger, alert: StoredAlert) -> bool:
    """Whether the trigger selects the alert (see `Trigger`)."""
    if ALERT_LEVELS.index(alert.level) < ALERT_LEVELS.index(trigger.min_level):
        return False
    if trigger.personal_data is not None and personal_data(alert) != trigger.personal_data:
        return False
    tags = _tags(alert)
    techniques = _techniques(alert)
    return (
        alert.rule_id in trigger.rule_ids
        or any(tag.lower() in tags for tag in trigger.tags)
        or any(
            seen == wanted or seen.startswith(wanted + ".")
            for wanted in trigger.techniques
            for seen in techniques
        )
    )


def select_playbook(
    alert: StoredAlert, playbooks: Mapping[str, LoadedPlaybook]
) -> LoadedPlaybook | None:
    """The matching playbook with the highest trigger priority (ties: by id)."""
    candidates = [item for item in playbooks.values() if matches(item.playbook.trigger, alert)]
    candidates.sort(key=lambda item: (-item.playbook.trigger.priority, item.playbook.id))
    return candidates[0] if candidates else None


def routing_key(trigger: Trigger, alert: StoredAlert, playbook_id: str | None) -> str:
    """The grouping key: playbook plus the group-by values of the alert."""
    values = {
        "rule": alert.rule_id,
        "host": alert.host_name or "",
        "user": alert.user_name or "",
        "pseudonym": str(observables.lookup(alert.body, "dijkwacht.subject.pseudonym") or ""),
    }
    parts = [f"playbook={playbook_id or '-'}"]
    parts += [f"{name}={values[name]}" for name in trigger.group_by]
    if alert.exercise_id:
        parts.append(f"exercise={alert.exercise_id}")  # drills never merge with real incidents
    return "|".join(parts)[:500]


def _severity(level: str, floor: str) -> str:
    severity = _LEVEL_TO_SEVERITY.get(level, level)
    return max(severity, floor, key=SEVERITIES.index)


def route_alert(
    *, db: Session, clock: Clock, alert: StoredAlert, playbooks: Mapping[str, LoadedPlaybook]
) -> tuple[RouteResult, list[Enqueue]]:
    """Attach the alert to its open incident or open a new one (starting its playbook).

    An alert already routed returns its incident again and changes nothing.
    """
    existing = db.scalar(select(IncidentAlert).where(IncidentAlert.alert_id == alert.id))
    if existing is not None:
        return RouteResult(
            alert.id,
            existing.incident_id,
            created=False,
            reason=f"already in incident #{existing.incident_id} "
            f"since {existing.added_at:%Y-%m-%d %H:%M} UTC",
        ), []
    loaded = select_playbook(alert, playbooks)
    trigger = loaded.playbook.trigger if loaded else DEFAULT_TRIGGER
    key = routing_key(trigger, alert, loaded.playbook.id if loaded else None)
    window_start = alert.created_at - timedelta(minutes=trigger.window_minutes)
    incident = db.scalar(
        select(Incident)
        .where(Incident.routing_key == key, Incident.status != "closed")
        .where(Incident.last_alert_at >= window_start)
        .order_by(Incident.id.desc())
        .limit(1)
    )
    work: list[Enqueue] = []
    run_id = None
    created = incident is None
    floor = loaded.playbook.severity if loaded else "low"
    if incident is None:
        title = loaded.playbook.title if loaded else alert.rule_title
        subject = alert.host_name or alert.user_name
        incident = new_incident(
            db=db,
            clock=clock,
            title=f"{title}: {subject}" if subject else title,
            severity=_severity(alert.level, floor),
            actor="routing",
            routing_key=key,
            personal_data=personal_data(alert),
            exercise_id=alert.exercise_id,
        )
    elif SEVERITIES.index(_severity(alert.level, floor)) > SEVERITIES.index(incident.severity):
        log(
            db=db,
            clock=clock,
            incident_id=incident.id,
            actor="routing",
            action="incident.severity_changed",
            **{"from": incident.severity, "to": _severity(alert.level, floor)},
            reason=f"alert {alert.id} has level {alert.level}",
        )
        incident.severity = _severity(alert.level, floor)
    incident.last_alert_at = max(incident.last_alert_at or alert.created_at, alert.created_at)
    incident.updated_at = clock.now()
    incident.personal_data = incident.personal_data or personal_data(alert)
    db.add(
        IncidentAlert(
            incident_id=incident.id,
            alert_id=alert.id,
            rule_id=alert.rule_id,
            level=alert.level,
            alert_created_at=alert.created_at,
            added_at=clock.now(),
        )
    )
    reason = _why(trigger, key, loaded.playbook.id if loaded else None, created, incident.id)
    log(
        db=db,
        clock=clock,
        incident_id=incident.id,
        actor="routing",
        action="incident.alert_added",
        alert_id=alert.id,
        rule_id=alert.rule_id,
        level=alert.level,
        reason=reason,
    )
    observables.link(
        db=db,
        clock=clock,
        incident_id=incident.id,
        observables=observables.from_alert(
            alert.body, host_name=alert.host_name, user_name=alert.user_name
        ),
        actor="routing",
        source=f"alert:{alert.id}",
    )
    if created and loaded is not None and loaded.playbook.auto_start:
        run = new_run(db=db, clock=clock, incident_id=incident.id, loaded=loaded, actor="routing")
        run_id = run.id
        work = _advance(db, clock, run)
    db.flush()
    return RouteResult(alert.id, incident.id, created, run_id, tuple(work), reason), work


def _why(trigger: Trigger, key: str, playbook: str | None, created: bool, incident_id: int) -> str:
    """Where routing put an alert and why, in words."""
    same = ", ".join(part for part in key.split("|") if not part.startswith("playbook="))
    chosen = f"playbook {playbook}" if playbook else "no playbook matched"
    if created:
        return f"new incident #{incident_id} ({chosen}; grouped by {same})"
    return (
        f"added to open incident #{incident_id}: same {same} within "
        f"{trigger.window_minutes} minutes ({chosen})"
    )


def pending_alerts(
    *,
    db: Session,
    clock: Clock,
    store: AlertStore,
    lookback: timedelta = timedelta(days=1),
    limit: int = 500,
) -> list[StoredAlert]:
    """`new` alerts of the lookback window not yet in an incident, oldest first (a read)."""
    alerts: Sequence[StoredAlert] = store.search(
        AlertQuery(statuses=("new",), start=clock.now() - lookback, sort="oldest", limit=limit)
    )
    known = set(
        db.scalars(
            select(IncidentAlert.alert_id).where(
                IncidentAlert.alert_id.in_([alert.id for alert in alerts])
            )
        )
    )
    return [alert for alert in alerts if alert.id not in known]


def route_pending_alert(
    *,
    db: Session,
    clock: Clock,
    alert: StoredAlert,
    playbooks: Mapping[str, LoadedPlaybook],
) -> tuple[RouteResult | None, list[Enqueue]]:
    """Route one alert from `pending_alerts` in the caller's unit, unless someone (a triage, a
    second worker) put it in an incident since the read: then nothing happens."""
    taken = db.scalar(select(IncidentAlert.alert_id).where(IncidentAlert.alert_id == alert.id))
    if taken is not None:
        return None, []
    return route_alert(db=db, clock=clock, alert=alert, playbooks=playbooks)


def route_new_alerts(
    *,
    db: Session,
    clock: Clock,
    store: AlertStore,
    playbooks: Mapping[str, LoadedPlaybook],
    lookback: timedelta = timedelta(days=1),
    limit: int = 500,
) -> tuple[list[RouteResult], list[Enqueue]]:
    """Route every pending alert in the caller's one unit (tests, small backlogs); the beat task
    routes one alert per unit instead, so a backlog never holds the write lock for long."""
    results: list[RouteResult] = []
    work: list[Enqueue] = []
    for alert in pending_alerts(db=db, clock=clock, store=store, lookback=lookback, limit=limit):
        result, more = route_alert(db=db, clock=clock, alert=alert, playbooks=playbooks)
        results.append(result)
        work.extend(more)
    return results, work


def describe(alert: StoredAlert) -> dict[str, Any]:
    """A short view of an alert for logs (no personal data)."""
    return {"id": alert.id, "rule": alert.rule_id, "level": alert.level}
