"""`dijkwacht breach open | facts | assess | decide | close`: a breach from suspicion to closing.

Deciding needs an active DPO account, as in the dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import typer

from dijkwacht.commands.breach.common import As, BreachId, acting, clock, json_file, pairs

LIST_FIELDS = (
    "systems", "breach_types", "data_categories", "special_categories", "subject_categories",
)  # fmt: skip


def open_command(
    user: As,
    title: Annotated[str, typer.Option(help="Short title of the suspected breach.")] = "",
    facts: Annotated[str, typer.Option(help="What happened, as far as known.")] = "",
    incident: Annotated[int | None, typer.Option(help="Link to this incident number.")] = None,
) -> None:
    """Register a suspected breach (by hand or for an incident); the clocks start now."""
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        actor = account.username
        if incident is not None:
            opened = breach.open_for_incident(
                db=db, clock=clock(), settings=settings, actor=actor, incident_id=incident,
                title=title,
            )  # fmt: skip
        else:
            opened = breach.open_breach(
                db=db, clock=clock(), settings=settings, actor=actor, title=title,
                fields={"facts": facts} if facts else None,
            )  # fmt: skip
        typer.echo(f"breach {opened.id} {opened.reference} registered")


def facts_command(
    breach_id: BreachId,
    user: As,
    set_: Annotated[
        list[str], typer.Option("--set", help="name=value, e.g. subjects_max=140 (repeat).")
    ],
) -> None:
    """Change facts of a breach (lists comma-separated); each change goes in the history."""
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        changes: dict[str, Any] = {}
        for name, value in pairs(set_, "--set").items():
            if name in ("subjects_min", "subjects_max", "records_estimate"):
                changes[name] = int(value) if value.strip().isdigit() else value
            elif name in LIST_FIELDS:
                changes[name] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                changes[name] = value
        breach.update_breach(
            db=db, clock=clock(), settings=settings, actor=account.username,
            breach_id=breach_id, changes=changes,
        )  # fmt: skip
        typer.echo(f"breach {breach_id}: {len(set_)} fact(s) recorded")


def assess_command(
    breach_id: BreachId,
    user: As,
    answers: Annotated[Path, typer.Option(help="JSON file with the assessment answers.")],
    reason: Annotated[str, typer.Option(help="Why reassess (when already decided).")] = "",
) -> None:
    """Record the ENISA/EDPB assessment; prints the severity, recommendation and why."""
    from playbooks.breach import service as breach

    with acting(user) as (_settings, db, account):
        given = json_file(answers, "--answers")
        actor = account.username
        if breach.get_breach(db=db, breach_id=breach_id).state != "assessing":
            breach.start_assessment(
                db=db, clock=clock(), actor=actor, breach_id=breach_id, note=reason
            )
        outcome = breach.record_assessment(
            db=db, clock=clock(), actor=actor, breach_id=breach_id, answers=given
        )
    typer.echo(f"severity: {outcome.band} (score {outcome.score:g})")
    typer.echo(f"recommendation: {outcome.recommendation}")
    for line in outcome.reasons:
        typer.echo(f"  - {line}")


def decide_command(
    breach_id: BreachId,
    decision: Annotated[
        Literal["no_notification", "notify_ap", "notify_ap_and_subjects", "not_a_breach"],
        typer.Argument(help="The decision."),
    ],
    user: As,
    reason: Annotated[str, typer.Option(help="Why (kept in the Art. 33(5) register).")],
) -> None:
    """The DPO's decision with its reason; also 'not notified' and 'not a breach'."""
    from playbooks.breach import service as breach

    with acting(user) as (_settings, db, account):
        if decision == "not_a_breach":
            breach.mark_not_a_breach(
                db=db,
                clock=clock(),
                actor=account.username,
                breach_id=breach_id,
                reason=reason,
            )
        else:
            breach.decide(
                db=db, clock=clock(), dpo=account, breach_id=breach_id, decision=decision,
                reason=reason,
            )  # fmt: skip
    typer.echo(f"breach {breach_id}: decided {decision}")


def close_command(
    breach_id: BreachId,
    user: As,
    lessons: Annotated[str, typer.Option(help="Lessons learned.")],
    remedial: Annotated[str, typer.Option(help="Remedial actions, if not yet recorded.")] = "",
) -> None:
    """Close a handled breach with the lessons learned."""
    from core.errors import ValidationError
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        actor = account.username
        if remedial.strip():
            breach.update_breach(
                db=db, clock=clock(), settings=settings, actor=actor, breach_id=breach_id,
                changes={"remedial_actions": remedial.strip()},
            )  # fmt: skip
        if not lessons.strip():
            raise ValidationError("--lessons", "write down the lessons learned")
        breach.close_breach(
            db=db, clock=clock(), actor=actor, breach_id=breach_id,
            note=f"Lessen / lessons: {lessons.strip()}",
        )  # fmt: skip
    typer.echo(f"breach {breach_id} closed")
