"""One check per kind of evidence: read what the platform already did, conclude a status.

Each check reads another domain only through that domain's service functions (or the kernel:
the audit log) and returns an `Outcome`: a status, the reason in words, and the evidence
items it read. Exercise data never counts as real evidence (drill breaches and incidents are
left out). A check that cannot read its source says so (`not_evidenced`), it never crashes
the run.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from compliance.schemas import Evidence, Measure, Outcome
from core.clock import Clock, utc_iso
from core.config import Settings
from core.store.base import EventQuery, EventStore

LOG_ELEMENTS: dict[str, tuple[str, ...]] = {
    "action": ("event.action", "event.code", "event.category"),
    "object": ("file.path", "process.name", "url.path", "service.name", "winlog.channel"),
    "result": ("event.outcome",),
    "origin": ("source.ip", "source.address", "client.ip", "host.ip", "host.name"),
    "actor": ("user.name", "user.id", "source.user.name", "process.name"),
    "time": ("@timestamp",),
}
SOURCE_FIELDS = ("event.dataset", "event.module", "observer.type")
SCHEDULER = "scheduler"


@dataclass(frozen=True)
class CheckContext:
    """What a check may read: the relational session, settings, the moment, and stores."""

    db: Session
    settings: Settings
    clock: Clock
    event_store: EventStore | None = None
    rule_paths: Sequence[Path] = ()

    @property
    def now(self) -> datetime:
        return self.clock.now()


def _since(ctx: CheckContext, measure: Measure) -> datetime:
    return ctx.now - timedelta(days=measure.every_days)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else utc_iso(moment)


def _hours(delta: timedelta) -> float:
    return round(delta.total_seconds() / 3600, 1)


# -- 8.15.06 audit-chain verification -----------------------------------------------------------


def audit_integrity(ctx: CheckContext, measure: Measure) -> Outcome:
    from core.audit import verifications

    runs = verifications(db=ctx.db, since=_since(ctx, measure))
    evidence = tuple(
        Evidence(
            kind="audit_verification",
            source="core.audit",
            at=run.at,
            summary=(
                f"verify by {run.actor}: "
                + ("intact" if run.ok else f"BROKEN at seq {run.bad_seq}: {run.reason}")
                + f" ({run.entries} entries checked)"
            ),
            data={
                "seq": run.seq,
                "actor": run.actor,
                "ok": run.ok,
                "entries": run.entries,
                "bad_seq": run.bad_seq,
                "reason": run.reason,
            },
        )
        for run in runs[-50:]
    )
    if not runs:
        return Outcome(
            "not_met",
            f"no verification of the audit chain in the last {measure.every_days} days",
            evidence,
            nl=f"de auditketen is in de laatste {measure.every_days} dagen niet gecontroleerd",
        )
    last = runs[-1]
    if not last.ok:
        return Outcome(
            "not_met",
            f"the last verification ({utc_iso(last.at)}, by {last.actor}) found the audit chain "
            f"broken at seq {last.bad_seq}: {last.reason}",
            evidence,
            nl=f"bij de laatste controle ({utc_iso(last.at)}, door {last.actor}) bleek de "
            f"auditketen gebroken bij regel {last.bad_seq}: {last.reason}",
        )
    people = sorted({run.actor for run in runs if run.actor != SCHEDULER})
    who = f"; checked by {', '.join(people)}" if people else "; only scheduled checks"
    wie = f"; gecontroleerd door {', '.join(people)}" if people else "; alleen geplande controles"
    return Outcome(
        "met",
        f"{len(runs)} verifications in the last {measure.every_days} days, the last "
        f"({utc_iso(last.at)}) found the chain intact{who}",
        evidence,
        nl=f"{len(runs)} controles in de laatste {measure.every_days} dagen; bij de laatste "
        f"({utc_iso(last.at)}) was de keten intact{wie}",
    )


# -- 8.15.01 what log lines contain ----------------------------------------------------------


def _field(event: dict[str, Any], path: str) -> Any:
    from core.events import get_field

    return get_field(event, path)


def log_fields(ctx: CheckContext, measure: Measure) -> Outcome:
    if ctx.event_store is None:
        return Outcome(
            "not_evidenced",
            "the event store was not available to this check",
            nl="de opslag van gebeurtenissen was niet beschikbaar voor deze controle",
        )
    sample = int(measure.params.get("sample", 500))
    minimum = float(measure.params.get("min_share", 0.9))
    query = EventQuery(start=_since(ctx, measure), limit=sample, order="desc")
    events = [stored.event for stored in ctx.event_store.search(query)]
    if not events:
        return Outcome(
            "not_evidenced",
            f"no events stored in the last {measure.every_days} days",
            nl=f"geen gebeurtenissen opgeslagen in de laatste {measure.every_days} dagen",
        )
    per_source: dict[str, Counter[str]] = {}
    totals: Counter[str] = Counter()
    for event in events:
        source = next(
            (str(v) for f in SOURCE_FIELDS if (v := _field(event, f)) not in (None, "")),
            "unknown",
        )
        totals[source] += 1
        seen = per_source.setdefault(source, Counter())
        for element, fields in LOG_ELEMENTS.items():
            if any(_field(event, f) not in (None, "") for f in fields):
                seen[element] += 1
    evidence = []
    short: list[str] = []
    for source in sorted(totals):
        shares = {e: round(per_source[source][e] / totals[source], 3) for e in LOG_ELEMENTS}
        missing = [e for e, share in shares.items() if share < minimum]
        if missing:
            short.append(f"{source} lacks {', '.join(missing)}")
        evidence.append(
            Evidence(
                kind="log_source_fields",
                source="core.store.events",
                at=ctx.now,
                summary=f"{source}: {totals[source]} events sampled; "
                + ("all six elements present" if not missing else f"missing {', '.join(missing)}"),
                data={"source": source, "events": totals[source], "shares": shares},
            )
        )
    if short:
        return Outcome(
            "at_risk",
            f"not every log source delivers what 8.15 asks: {'; '.join(short[:5])}",
            tuple(evidence),
            nl=f"niet elke logbron levert wat 8.15 vraagt: {'; '.join(short[:5])}",
        )
    return Outcome(
        "met",
        f"{len(totals)} log sources deliver action, object, result, origin, actor and time",
        tuple(evidence),
        nl=f"{len(totals)} logbronnen leveren actie, object, resultaat, herkomst, actor en tijd",
    )


# -- 5.26 / 5.28 incidents ------------------------------------------------------------------


def _incidents(ctx: CheckContext) -> list[Any]:
    from playbooks.service import list_incidents

    found = list_incidents(db=ctx.db, limit=100_000)
    return [incident for incident in found if incident.exercise_id is None]


def incident_handling(ctx: CheckContext, measure: Measure) -> Outcome:
    since = _since(ctx, measure)
    incidents = [i for i in _incidents(ctx) if i.created_at >= since]
    max_open = timedelta(days=float(measure.params.get("max_open_days", 30)))
    evidence = []
    stale = []
    for incident in incidents[:200]:
        acknowledged = (
            None
            if incident.acknowledged_at is None
            else _hours(incident.acknowledged_at - incident.created_at)
        )
        closed = (
            None if incident.closed_at is None else _hours(incident.closed_at - incident.created_at)
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
    from playbooks.service import deadlines_since

    records = deadlines_since(
        db=ctx.db, clock=ctx.clock, settings=ctx.settings, since=_since(ctx, measure)
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
            hours = _hours(item.met_at - item.due_at)
            reason = record.delay_reason.strip() or "no reason for the delay recorded"
            late.append(f"{item.reference} {item.label} filed {hours} h late (reason: {reason})")
            reden = record.delay_reason.strip() or "geen reden voor de vertraging vastgelegd"
            laat.append(
                f"{item.reference} {item.label} {hours} uur te laat gemeld (reden: {reden})"
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
                    "met_at": _iso(item.met_at),
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
    from drills.service import played_exercises

    played = played_exercises(db=ctx.db, since=_since(ctx, measure))
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
                "stopped_at": _iso(record.stopped_at),
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


# -- 8.16 detection and threat sharing -------------------------------------------------------


def detection_coverage(ctx: CheckContext, measure: Measure) -> Outcome:
    from core.audit import entries
    from detection.service import coverage_summary

    if not ctx.rule_paths:
        return Outcome(
            "not_evidenced",
            "no rule folders were given to this check",
            nl="deze controle kreeg geen mappen met detectieregels",
        )
    summary = coverage_summary(db=ctx.db, paths=list(ctx.rule_paths))
    changes = entries(db=ctx.db, object_type="detection_rule", since=_since(ctx, measure))
    evidence = [
        Evidence(
            kind="detection_coverage",
            source="detection",
            at=ctx.now,
            summary=f"{summary.enabled} of {summary.rules} rules enabled, covering "
            f"{len(summary.techniques)} ATT&CK techniques",
            data={
                "rules": summary.rules,
                "enabled": summary.enabled,
                "techniques": list(summary.techniques),
                "load_problems": summary.problems,
            },
        )
    ]
    evidence += [
        Evidence(
            kind="rule_change",
            source="core.audit",
            at=entry.at,
            summary=f"{entry.action} {entry.object_id} by {entry.actor}",
            data={"seq": entry.seq, "action": entry.action, "rule_id": entry.object_id},
        )
        for entry in changes[-50:]
    ]
    minimum = int(measure.params.get("min_techniques", 1))
    if summary.enabled == 0:
        return Outcome(
            "not_met",
            "no detection rule is enabled",
            tuple(evidence),
            nl="er staat geen enkele detectieregel aan",
        )
    if len(summary.techniques) < minimum:
        return Outcome(
            "at_risk",
            f"enabled rules cover {len(summary.techniques)} ATT&CK techniques, fewer than "
            f"{minimum}",
            tuple(evidence),
            nl=f"de actieve regels dekken {len(summary.techniques)} ATT&CK-technieken, minder "
            f"dan {minimum}",
        )
    return Outcome(
        "met",
        f"{summary.enabled} rules enabled covering {len(summary.techniques)} ATT&CK techniques; "
        f"{len(changes)} rule changes in the last {measure.every_days} days",
        tuple(evidence),
        nl=f"{summary.enabled} regels actief voor {len(summary.techniques)} ATT&CK-technieken; "
        f"{len(changes)} wijzigingen aan regels in de laatste {measure.every_days} dagen",
    )


def threat_sharing(ctx: CheckContext, measure: Measure) -> Outcome:
    return Outcome(
        "not_evidenced",
        "the platform makes no threat-sharing exports to the CERT yet; evidence this measure "
        "by hand",
        nl="het platform deelt nog geen dreigingsinformatie met de CERT; lever dit bewijs zelf",
    )


# -- 6.3 awareness and 5.34 privacy --------------------------------------------------------


def awareness_published(ctx: CheckContext, measure: Measure) -> Outcome:
    from awareness.service import published_topics

    topics = published_topics()
    evidence = tuple(
        Evidence(
            kind="awareness_topic",
            source="awareness",
            at=datetime(t.updated.year, t.updated.month, t.updated.day, tzinfo=ctx.now.tzinfo),
            summary=f"{t.topic_id}: {t.title} (updated {t.updated:%Y-%m-%d})",
            data={"topic": t.topic_id, "updated": t.updated.isoformat()},
        )
        for t in topics
    )
    if not topics:
        return Outcome(
            "not_met",
            "no awareness topic is published",
            nl="er is geen onderwerp over weerbaarheid gepubliceerd",
        )
    recent = [t for t in topics if t.updated >= _since(ctx, measure).date()]
    if not recent:
        return Outcome(
            "at_risk",
            f"{len(topics)} topics published, none updated in the last {measure.every_days} days",
            evidence,
            nl=f"{len(topics)} onderwerpen gepubliceerd, geen bijgewerkt in de laatste "
            f"{measure.every_days} dagen",
        )
    return Outcome(
        "met",
        f"{len(topics)} topics published, {len(recent)} updated in the last "
        f"{measure.every_days} days",
        evidence,
        nl=f"{len(topics)} onderwerpen gepubliceerd, {len(recent)} bijgewerkt in de laatste "
        f"{measure.every_days} dagen",
    )


def processing_register(ctx: CheckContext, measure: Measure) -> Outcome:
    from playbooks.service import processing_register as register

    rows = register(db=ctx.db)
    evidence = tuple(
        Evidence(
            kind="processing_system",
            source="playbooks.breach",
            at=None,
            summary=f"{system.name}: {len(activities)} processing activities",
            data={"system": system.name, "activities": [a.name for a in activities]},
        )
        for system, activities in rows
    )
    if not rows:
        return Outcome(
            "not_met",
            "the register of processing activities is empty",
            nl="het verwerkingsregister is leeg",
        )
    count = sum(len(activities) for _, activities in rows)
    return Outcome(
        "met",
        f"{len(rows)} systems with {count} processing activities registered",
        evidence,
        nl=f"{len(rows)} systemen met {count} verwerkingen geregistreerd",
    )


CHECKS: dict[str, Callable[[CheckContext, Measure], Outcome]] = {
    "audit_integrity": audit_integrity,
    "log_fields": log_fields,
    "incident_handling": incident_handling,
    "incident_records": incident_records,
    "breach_deadlines": breach_deadlines,
    "continuity_exercise": continuity_exercise,
    "detection_coverage": detection_coverage,
    "awareness_published": awareness_published,
    "processing_register": processing_register,
    "threat_sharing": threat_sharing,
}
