"""Checks on incident response and continuity: 5.26/5.28 incidents, 5.24.07 notifications
within the legal deadline, 5.30.01 continuity exercised every year. Exercise (drill) breaches
and incidents never count as evidence."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from compliance.context import CheckContext, hours, iso, since
from compliance.schemas import Evidence, Measure, Outcome
from core.clock import utc_iso
from drills.service import played_exercises
from playbooks.breach.service import deadlines_since
from playbooks.service import list_incidents

# -- 5.26 / 5.28 incidents ------------------------------------------------------------------


def _incidents(ctx: CheckContext) -> list[Any]:
    found = list_incidents(db=ctx.db, limit=100_000)
    return [incident for incident in found if incident.exercise_id is None]


def incident_handling(ctx: CheckContext, measure: Measure) -> Outcome:
    start = since(ctx, measure)
    incidents = [i for i in _incidents(ctx) if i.created_at >= start]
    max_open = timedelta(days=float(measure.params.get("max_open_days", 30)))
    evidence = []
    stale = []
    for incident in incidents[:200]:
        acknowledged = (
            None
            if incident.acknowledged_at is None
            else hours(incident.acknowledged_at - incident.created_at)
        )
        closed = (
            None if incident.closed_at is None else hours(incident.closed_at - incident.created_at)
        )
        if incident.closed_at is None and ctx.now - incident.created_at > max_open:
            stale.append(incident.id)
        evidence.append(
            Evidence(
                kind="incident",
                source="playbooks.incidents",
                at=incident.created_at,
                summary=f"incident #{incident.id} ({incident.severity}, {incident.status}): "
                f"acknowledged after {acknowledged} h, closed after {closed} h",
                data={
                    "incident_id": incident.id,
                    "severity": incident.severity,
                    "status": incident.status,
                    "hours_to_acknowledge": acknowledged,
                    "hours_to_close": closed,
                },
            )
        )
    if not incidents:
        return Outcome(
            "not_evidenced",
            f"no incidents in the last {measure.every_days} days",
            nl=f"geen incidenten in de laatste {measure.every_days} dagen",
        )
    if stale:
        ids = ", ".join(f"#{i}" for i in stale[:10])
        return Outcome(
            "at_risk",
            f"{len(stale)} incidents open longer than {max_open.days} days: {ids}",
            tuple(evidence),
            nl=f"{len(stale)} incidenten staan langer dan {max_open.days} dagen open: {ids}",
        )
    return Outcome(
        "met",
        f"{len(incidents)} incidents in the last {measure.every_days} days, none open longer "
        f"than {max_open.days} days",
        tuple(evidence),
        nl=f"{len(incidents)} incidenten in de laatste {measure.every_days} dagen, geen langer "
        f"dan {max_open.days} dagen open",
    )


def incident_records(ctx: CheckContext, measure: Measure) -> Outcome:
    incidents = _incidents(ctx)
    if not incidents:
        return Outcome("not_evidenced", "no incident records yet", nl="nog geen incidentdossiers")
    per_year = Counter(str(i.created_at.year) for i in incidents)
    oldest = min(i.created_at for i in incidents)
    keep = int(measure.params.get("keep_years", 3))
    evidence = (
        Evidence(
            kind="incident_records",
            source="playbooks.incidents",
            at=oldest,
            summary=f"{len(incidents)} incident records kept, oldest from {utc_iso(oldest)}; "
            "the platform deletes no incident records",
            data={"per_year": dict(sorted(per_year.items())), "oldest": utc_iso(oldest)},
        ),
    )
    return Outcome(
        "met",
        f"{len(incidents)} incident records kept (oldest {oldest:%Y-%m-%d}); none is deleted "
        f"before {keep} years",
        evidence,
        nl=f"{len(incidents)} incidentdossiers bewaard (oudste {oldest:%d-%m-%Y}); geen wordt "
        f"eerder dan na {keep} jaar verwijderd",
    )


# -- 5.24.07 notifications within the legal deadline --------------------------------------------


def breach_deadlines(ctx: CheckContext, measure: Measure) -> Outcome:
    records = deadlines_since(
        db=ctx.db, clock=ctx.clock, settings=ctx.settings, since=since(ctx, measure)
    )
    real = [r for r in records if not r.deadline.exercise]
    evidence = []
    late: list[str] = []
    overdue: list[str] = []
    laat: list[str] = []
    verlopen: list[str] = []
    for record in real:
        item = record.deadline
        if item.status == "not_required":
            continue
        text = f"{item.reference} {item.label}: due {utc_iso(item.due_at)}"
        if item.met_at is not None:
            text += f", filed {utc_iso(item.met_at)}"
        if item.status == "met_late" and item.met_at is not None:
            late_by = hours(item.met_at - item.due_at)
            reason = record.delay_reason.strip() or "no reason for the delay recorded"
            late.append(f"{item.reference} {item.label} filed {late_by} h late (reason: {reason})")
            reden = record.delay_reason.strip() or "geen reden voor de vertraging vastgelegd"
            laat.append(
                f"{item.reference} {item.label} {late_by} uur te laat gemeld (reden: {reden})"
            )
        if item.status == "overdue":
            overdue.append(f"{item.reference} {item.label} is overdue since {utc_iso(item.due_at)}")
            verlopen.append(
                f"{item.reference} {item.label}: termijn verlopen op {utc_iso(item.due_at)}"
            )
        evidence.append(
            Evidence(
                kind="notification_deadline",
                source="playbooks.breach",
                at=item.met_at or item.due_at,
                summary=f"{text} ({item.status})",
                data={
                    "breach": item.reference,
                    "clock": item.clock,
                    "due_at": utc_iso(item.due_at),
                    "met_at": iso(item.met_at),
                    "status": item.status,
                    "delay_reason": record.delay_reason if item.status == "met_late" else "",
                },
            )
        )
    if overdue:
        return Outcome(
            "not_met", "; ".join(overdue[:5]), tuple(evidence), nl="; ".join(verlopen[:5])
        )
    if late:
        return Outcome("at_risk", "; ".join(late[:5]), tuple(evidence), nl="; ".join(laat[:5]))
    if not evidence:
        return Outcome(
            "not_evidenced",
            f"no notifications due in the last {measure.every_days} days (drills left out)",
            nl=f"geen meldingen nodig in de laatste {measure.every_days} dagen (oefeningen niet "
            "meegeteld)",
        )
    return Outcome(
        "met",
        f"all {len(evidence)} notifications were filed within their deadline",
        tuple(evidence),
        nl=f"alle {len(evidence)} meldingen zijn binnen de termijn gedaan",
    )


# -- 5.30.01 continuity exercised every year ---------------------------------------------------


def continuity_exercise(ctx: CheckContext, measure: Measure) -> Outcome:
    played = played_exercises(db=ctx.db, since=since(ctx, measure))
    evidence = tuple(
        Evidence(
            kind="exercise",
            source="drills",
            at=record.started_at,
            summary=f"{record.mode} exercise {record.exercise_id} ({record.scenario_id}) "
            + ("with report" if record.report_id is not None else "without a report yet"),
            data={
                "exercise_id": record.exercise_id,
                "scenario": record.scenario_id,
                "mode": record.mode,
                "status": record.status,
                "started_at": utc_iso(record.started_at),
                "stopped_at": iso(record.stopped_at),
                "report_id": record.report_id,
                "report_sha256": record.report_sha256,
            },
        )
        for record in played
    )
    if not played:
        return Outcome(
            "not_met",
            f"no continuity exercise played in the last {measure.every_days} days",
            nl=f"geen continuïteitsoefening gehouden in de laatste {measure.every_days} dagen",
        )
    modes = Counter(record.mode for record in played)
    summary = ", ".join(f"{count} {mode}" for mode, count in sorted(modes.items()))
    soort = {"tabletop": "tabletop", "technical": "technische"}
    samenvatting = ", ".join(
        f"{count} {soort.get(mode, mode)} oefening{'en' if count > 1 else ''}"
        for mode, count in sorted(modes.items())
    )
    newest = played[0].started_at
    lapses = newest + timedelta(days=measure.every_days)
    warn = timedelta(days=float(measure.params.get("warn_days", 30)))
    if lapses - ctx.now <= warn:
        return Outcome(
            "at_risk",
            f"{summary} in the last {measure.every_days} days; the newest lapses on "
            f"{lapses:%Y-%m-%d}: plan the next exercise",
            evidence,
            nl=f"{samenvatting} in de laatste {measure.every_days} dagen; de laatste verloopt op "
            f"{lapses:%d-%m-%Y}: plan de volgende oefening",
        )
    return Outcome(
        "met",
        f"{summary} exercises in the last {measure.every_days} days",
        evidence,
        nl=f"{samenvatting} in de laatste {measure.every_days} dagen",
    )
