"""Checks on logging and monitoring: 8.15.06 audit-chain verification, 8.15.01 what log
lines hold, 8.16.04 detection coverage, 8.16.01 threat sharing."""

from __future__ import annotations

from collections import Counter
from typing import Any

from compliance.context import SCHEDULER, CheckContext, since
from compliance.schemas import Evidence, Measure, Outcome
from core.audit import entries, verifications
from core.clock import local_text
from core.events import get_field
from core.store.base import EventQuery
from detection.service import coverage_summary

LOG_ELEMENTS: dict[str, tuple[str, ...]] = {
    "action": ("event.action", "event.code", "event.category"),
    "object": ("file.path", "process.name", "url.path", "service.name", "winlog.channel"),
    "result": ("event.outcome",),
    "origin": ("source.ip", "source.address", "client.ip", "host.ip", "host.name"),
    "actor": ("user.name", "user.id", "source.user.name", "process.name"),
    "time": ("@timestamp",),
}
SOURCE_FIELDS = ("event.dataset", "event.module", "observer.type")

# -- 8.15.06 audit-chain verification -----------------------------------------------------------


def audit_integrity(ctx: CheckContext, measure: Measure) -> Outcome:
    runs = verifications(db=ctx.db, since=since(ctx, measure))
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
    when = local_text(last.at, ctx.settings.timezone)  # people read it: local, to the second
    if not last.ok:
        return Outcome(
            "not_met",
            f"the last verification ({when}, by {last.actor}) found the audit chain "
            f"broken at seq {last.bad_seq}: {last.reason}",
            evidence,
            nl=f"bij de laatste controle ({when}, door {last.actor}) bleek de "
            f"auditketen gebroken bij regel {last.bad_seq}: {last.reason}",
        )
    people = sorted({run.actor for run in runs if run.actor != SCHEDULER})
    who = f"; checked by {', '.join(people)}" if people else "; only scheduled checks"
    wie = f"; gecontroleerd door {', '.join(people)}" if people else "; alleen geplande controles"
    return Outcome(
        "met",
        f"{len(runs)} verifications in the last {measure.every_days} days, the last "
        f"({when}) found the chain intact{who}",
        evidence,
        nl=f"{len(runs)} controles in de laatste {measure.every_days} dagen; bij de laatste "
        f"({when}) was de keten intact{wie}",
    )


# -- 8.15.01 what log lines contain ----------------------------------------------------------


def _field(event: dict[str, Any], path: str) -> Any:
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
    query = EventQuery(start=since(ctx, measure), limit=sample, order="desc")
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


# -- 8.16 detection and threat sharing -------------------------------------------------------


def detection_coverage(ctx: CheckContext, measure: Measure) -> Outcome:
    if not ctx.rule_paths:
        return Outcome(
            "not_evidenced",
            "no rule folders were given to this check",
            nl="deze controle kreeg geen mappen met detectieregels",
        )
    summary = coverage_summary(db=ctx.db, paths=list(ctx.rule_paths))
    changes = entries(db=ctx.db, object_type="detection_rule", since=since(ctx, measure))
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
