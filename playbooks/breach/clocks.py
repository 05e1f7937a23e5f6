"""Legal deadlines of a breach, their reminders, and how times are shown.

Times are stored and compared in UTC; a deadline is an absolute moment ("72 hours after
awareness" is 72 real hours, also across a DST change) and is only *shown* in the
municipality's time zone (Europe/Amsterdam by default). Reminders are rows with `fired_at`:
the beat task claims each row with a conditional UPDATE, so it fires once, also after restarts
or when two workers race.
"""

from __future__ import annotations

import calendar
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from core import audit
from core.clock import Clock
from core.config import Settings
from playbooks.breach.models import Breach, BreachReminder, BreachReport

log = logging.getLogger(__name__)

GDPR_HOURS = 72
NIS2_EARLY_WARNING_HOURS = 24
NIS2_NOTIFICATION_HOURS = 72
# Extra reminder points for NIS2/Cbw deadlines (hours after awareness, or days before final).
NIS2_EARLY_WARNING_REMINDER_HOURS = 12
NIS2_FINAL_REMINDER_DAYS = 7

# Which report meets which deadline.
CLOCK_REPORT = {
    "gdpr_ap": "ap_initial",
    "nis2_early_warning": "nis2_early_warning",
    "nis2_notification": "nis2_notification",
    "nis2_final_report": "nis2_final",
}
CLOCK_LABELS = {
    "gdpr_ap": "AVG: melding aan de AP (72 uur)",
    "nis2_early_warning": "Cbw/NIS2: vroegtijdige waarschuwing (24 uur)",
    "nis2_notification": "Cbw/NIS2: incidentmelding (72 uur)",
    "nis2_final_report": "Cbw/NIS2: eindrapport (1 maand)",
}
_NOT_REQUIRED_STATES = ("not_a_breach", "no_notification")


def iso(moment: datetime) -> str:
    """UTC ISO 8601 with seconds, for JSON and CSV."""
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def local(moment: datetime, settings: Settings) -> datetime:
    """`moment` in the configured time zone (for display and calendar arithmetic only)."""
    return moment.astimezone(ZoneInfo(settings.timezone))


def show(moment: datetime | None, settings: Settings) -> str:
    """Local wall-clock time with its zone abbreviation, e.g. `31-03-2026 13:00 CEST`."""
    if moment is None:
        return "-"
    return local(moment, settings).strftime("%d-%m-%Y %H:%M %Z")


def add_month(moment: datetime, settings: Settings) -> datetime:
    """One calendar month later on the local calendar (Cbw final report), back in UTC."""
    here = local(moment, settings)
    year, month = (here.year + 1, 1) if here.month == 12 else (here.year, here.month + 1)
    day = min(here.day, calendar.monthrange(year, month)[1])
    # Same local wall-clock time a month later: a DST change in between shifts the UTC hour.
    later = here.replace(year=year, month=month, day=day, tzinfo=None)
    return later.replace(tzinfo=ZoneInfo(settings.timezone)).astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Deadline:
    """One legal deadline of one breach and whether it was met."""

    breach_id: int
    reference: str
    exercise: bool
    clock: str
    label: str
    due_at: datetime
    met_at: datetime | None
    status: str  # open | overdue | met | met_late | not_required

    @property
    def loud(self) -> bool:
        return self.status in ("overdue", "met_late")


def _final_reports(db: Session, breach_id: int) -> dict[str, datetime]:
    rows = db.scalars(
        select(BreachReport)
        .where(BreachReport.breach_id == breach_id, BreachReport.status == "final")
        .order_by(BreachReport.finalised_at)
    )
    met: dict[str, datetime] = {}
    for report in rows:
        if report.finalised_at is not None:
            met.setdefault(report.kind, report.finalised_at)
    return met


def due_times(breach: Breach, settings: Settings, met: dict[str, datetime]) -> dict[str, datetime]:
    """Due moment of each clock that runs for `breach`."""
    due = {"gdpr_ap": breach.aware_at + timedelta(hours=GDPR_HOURS)}
    if breach.nis2_applies:
        notified = met.get("nis2_notification")
        due["nis2_early_warning"] = breach.aware_at + timedelta(hours=NIS2_EARLY_WARNING_HOURS)
        due["nis2_notification"] = breach.aware_at + timedelta(hours=NIS2_NOTIFICATION_HOURS)
        # One month after the incident notification; until it is sent, after its deadline.
        due["nis2_final_report"] = add_month(notified or due["nis2_notification"], settings)
    return due


def _not_required(clock_name: str, state: str) -> bool:
    # No AP notification after a "no notification" decision; NIS2 runs unless no breach at all.
    if clock_name == "gdpr_ap":
        return state in (*_NOT_REQUIRED_STATES, "closed")
    return state == "not_a_breach"


def deadlines(*, db: Session, clock: Clock, settings: Settings, breach: Breach) -> list[Deadline]:
    """The deadlines of one breach with their status now, earliest first."""
    met = _final_reports(db, breach.id)
    now = clock.now()
    result = []
    for name, due in due_times(breach, settings, met).items():
        met_at = met.get(CLOCK_REPORT[name])
        if met_at is not None:
            status = "met" if met_at <= due else "met_late"
        elif _not_required(name, breach.state):
            status = "not_required"
        else:
            status = "overdue" if now > due else "open"
        result.append(
            Deadline(
                breach_id=breach.id,
                reference=breach.reference,
                exercise=breach.is_exercise,
                clock=name,
                label=CLOCK_LABELS[name],
                due_at=due,
                met_at=met_at,
                status=status,
            )
        )
    return sorted(result, key=lambda d: d.due_at)


def all_deadlines(
    *, db: Session, clock: Clock, settings: Settings, include_met: bool = False
) -> list[Deadline]:
    """Deadlines of every breach, ordered by due time; open and overdue ones unless asked."""
    found = []
    for breach in db.scalars(select(Breach).where(Breach.state != "closed")):
        for item in deadlines(db=db, clock=clock, settings=settings, breach=breach):
            if include_met or item.status in ("open", "overdue"):
                found.append(item)
    return sorted(found, key=lambda d: (d.due_at, d.reference))


@dataclass(frozen=True, slots=True)
class DeadlineRecord:
    """A deadline of a breach aware since a moment, with the breach's stated delay reason."""

    deadline: Deadline
    delay_reason: str


def deadlines_since(
    *, db: Session, clock: Clock, settings: Settings, since: datetime
) -> list[DeadlineRecord]:
    """Every deadline of every breach (closed ones too) the municipality became aware of
    since `since`: what was due, when it was met and the reason given for a delay."""
    found = []
    query = select(Breach).where(Breach.aware_at >= since).order_by(Breach.aware_at)
    for breach in db.scalars(query):
        for item in deadlines(db=db, clock=clock, settings=settings, breach=breach):
            found.append(DeadlineRecord(deadline=item, delay_reason=breach.delay_reason))
    return found


def is_late(
    *, db: Session, clock: Clock, settings: Settings, breach: Breach, clock_name: str
) -> bool:
    """True when finishing `clock_name` now would be after its deadline."""
    due = due_times(breach, settings, _final_reports(db, breach.id))[clock_name]
    return clock.now() > due


def _reminder_points(breach: Breach, settings: Settings) -> dict[str, tuple[str, datetime]]:
    aware = breach.aware_at
    points: dict[str, tuple[str, datetime]] = {}
    for hours in settings.breach_reminder_hours:
        points[f"gdpr_{hours:g}h"] = ("gdpr_ap", aware + timedelta(hours=hours))
    points["gdpr_overdue"] = ("gdpr_ap", aware + timedelta(hours=GDPR_HOURS))
    if breach.nis2_applies:
        due = due_times(breach, settings, {})
        points[f"nis2_early_{NIS2_EARLY_WARNING_REMINDER_HOURS}h"] = (
            "nis2_early_warning",
            aware + timedelta(hours=NIS2_EARLY_WARNING_REMINDER_HOURS),
        )
        points["nis2_early_overdue"] = ("nis2_early_warning", due["nis2_early_warning"])
        points["nis2_notification_overdue"] = ("nis2_notification", due["nis2_notification"])
        final = due["nis2_final_report"]
        points["nis2_final_7d"] = (
            "nis2_final_report",
            final - timedelta(days=NIS2_FINAL_REMINDER_DAYS),
        )
        points["nis2_final_overdue"] = ("nis2_final_report", final)
    return points


def due_at(*, db: Session, settings: Settings, breach: Breach, clock_name: str) -> datetime:
    """The current due moment of one clock of `breach` (moves with the reports made)."""
    return due_times(breach, settings, _final_reports(db, breach.id))[clock_name]


def time_left(due: datetime, now: datetime) -> str:
    """`nog 12 uur` or `3 uur TE LAAT`, as the DPO reads it in reminders."""
    hours = (due - now).total_seconds() / 3600
    return f"nog {hours:.0f} uur" if hours > 0 else f"{-hours:.0f} uur TE LAAT"


def schedule_reminders(*, db: Session, breach: Breach, settings: Settings) -> None:
    """Create (or move, while unfired) the reminder rows of `breach`; caller commits."""
    existing = {
        r.key: r
        for r in db.scalars(select(BreachReminder).where(BreachReminder.breach_id == breach.id))
    }
    for key, (clock_name, due) in _reminder_points(breach, settings).items():
        row = existing.get(key)
        if row is None:
            db.add(BreachReminder(breach_id=breach.id, key=key, clock=clock_name, due_at=due))
        elif row.fired_at is None:
            row.due_at = due
    db.flush()


def move_final_report_reminders(
    *, db: Session, breach: Breach, settings: Settings, notified_at: datetime
) -> None:
    """The Cbw final report is due a month after the incident notification actually went."""
    final = add_month(notified_at, settings)
    moves = {
        "nis2_final_7d": final - timedelta(days=NIS2_FINAL_REMINDER_DAYS),
        "nis2_final_overdue": final,
    }
    for row in db.scalars(select(BreachReminder).where(BreachReminder.breach_id == breach.id)):
        if row.key in moves and row.fired_at is None:
            row.due_at = moves[row.key]


@dataclass(frozen=True, slots=True)
class FiredReminder:
    """A reminder that fired now: which breach, which clock, how long is left."""

    breach_id: int
    reference: str
    key: str
    clock: str
    exercise: bool
    message: str


def _skip_reason(db: Session, breach: Breach, clock_name: str) -> str | None:
    if breach.state == "closed" or breach.state == "not_a_breach":
        return f"skipped: breach is {breach.state}"
    if clock_name == "gdpr_ap" and breach.state == "no_notification":
        return "skipped: DPO decided not to notify"
    if CLOCK_REPORT[clock_name] in _final_reports(db, breach.id):
        return "skipped: report already final"
    return None


def fire_due_reminders(*, db: Session, clock: Clock, settings: Settings) -> list[FiredReminder]:
    """Fire every due, unfired reminder exactly once; returns the ones that reminded someone."""
    now = clock.now()
    due_ids = list(
        db.scalars(
            select(BreachReminder.id)
            .where(BreachReminder.fired_at.is_(None), BreachReminder.due_at <= now)
            .order_by(BreachReminder.due_at, BreachReminder.id)
        )
    )
    fired: list[FiredReminder] = []
    for reminder_id in due_ids:
        item = _fire_one(db=db, clock=clock, settings=settings, reminder_id=reminder_id)
        if item is not None:
            fired.append(item)
    return fired


def _fire_one(
    *, db: Session, clock: Clock, settings: Settings, reminder_id: int
) -> FiredReminder | None:
    # The claim is a conditional UPDATE: once the caller's unit commits, a reminder never fires
    # again; a crash before that fires it on the next run.
    reminder = db.get(BreachReminder, reminder_id)
    if reminder is None:
        return None
    breach = db.get(Breach, reminder.breach_id)
    assert breach is not None
    skip = _skip_reason(db, breach, reminder.clock)
    now = clock.now()
    claimed = db.execute(
        update(BreachReminder)
        .where(BreachReminder.id == reminder_id, BreachReminder.fired_at.is_(None))
        .values(
            fired_at=now,
            outcome=skip or "sent",
            # E-mail to the DPO goes after the unit commits (reminder_mail.deliver_reminders).
            delivery_status=None if skip else "queued",
        )
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        return None  # another worker fired it first
    due = due_at(db=db, settings=settings, breach=breach, clock_name=reminder.clock)
    when = time_left(due, now)
    label = CLOCK_LABELS[reminder.clock]
    message = f"{breach.reference}: {label}, deadline {show(due, settings)} ({when})"
    if breach.is_exercise:
        message = f"OEFENING - {message}"
    audit.record(
        db=db,
        clock=clock,
        actor="system",
        action="breach.reminder",
        object_type="breach",
        object_id=breach.reference,
        details={
            "key": reminder.key,
            "clock": reminder.clock,
            "outcome": skip or "sent",
            "message": message,
        },
    )
    if skip is not None:
        return None
    log.warning("breach reminder: %s", message)
    return FiredReminder(
        breach_id=breach.id,
        reference=breach.reference,
        key=reminder.key,
        clock=reminder.clock,
        exercise=breach.is_exercise,
        message=message,
    )


def reminders(*, db: Session, breach_id: int) -> list[BreachReminder]:
    """The reminder rows of a breach, by due time."""
    return list(
        db.scalars(
            select(BreachReminder)
            .where(BreachReminder.breach_id == breach_id)
            .order_by(BreachReminder.due_at, BreachReminder.id)
        )
    )
