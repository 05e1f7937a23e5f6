"""`dijkwacht breach draft | answer | finalise | follow-up | report`: the reports to the
authority (AP, NIS2). Finalising needs an active DPO account, as in the dashboard.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import typer

from dijkwacht.commands.breach.common import As, BreachId, ReportId, acting, clock, json_file, unit


def draft_command(
    breach_id: BreachId,
    user: As,
    kind: Annotated[
        str, typer.Option(help="ap_initial, nis2_early_warning, nis2_notification or nis2_final.")
    ] = "ap_initial",
) -> None:
    """Draft the AP notification (or a NIS2/Cbw report); prints what is still missing."""
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        actor = account.username
        if kind == "ap_initial":
            report = breach.draft_notification(
                db=db, clock=clock(), settings=settings, actor=actor, breach_id=breach_id
            )
        else:
            report = breach.draft_nis2_report(
                db=db, clock=clock(), settings=settings, actor=actor, breach_id=breach_id,
                kind=kind,
            )  # fmt: skip
        missing = breach.missing(report.kind, report.content)
    typer.echo(f"report {report.id} ({report.kind}) drafted; {len(missing)} question(s) open")
    for item in missing:
        typer.echo(f"  - {item}")


def answer_command(
    report_id: ReportId,
    user: As,
    answers: Annotated[
        Path, typer.Option(help='JSON file {"section.key": value}; dates ISO 8601 with zone.')
    ],
) -> None:
    """Answer questions of a draft report; prints what is still missing."""
    from playbooks.breach import service as breach

    with acting(user) as (_settings, db, account):
        given = json_file(answers, "--answers")
        actor = account.username
        report = breach.get_report(db=db, report_id=report_id)
        update = (
            breach.update_notification
            if report.kind.startswith("ap_")
            else breach.update_nis2_report
        )
        update(db=db, clock=clock(), actor=actor, report_id=report_id, changes=given)
        missing = breach.missing(report.kind, report.content)
    typer.echo(f"report {report_id}: {len(missing)} question(s) open")
    for item in missing:
        typer.echo(f"  - {item}")


def finalise_command(
    report_id: ReportId,
    user: As,
) -> None:
    """Mark the report as sent (frozen); prints its SHA-256. Refused while anything is missing."""
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        report = breach.get_report(db=db, report_id=report_id)
        finalise = (
            breach.finalise_notification
            if report.kind.startswith("ap_")
            else breach.finalise_nis2_report
        )
        finalise(db=db, clock=clock(), settings=settings, dpo=account, report_id=report_id)
        digest = breach.content_sha256(report)
    typer.echo(f"report {report_id} final; sha256 {digest}")


def followup_command(
    report_id: Annotated[int, typer.Argument(help="The first AP notification's id.")],
    user: As,
    purpose: Annotated[
        Literal["aanvulling", "wijziging", "intrekking"], typer.Option(help="Why.")
    ] = "aanvulling",
) -> None:
    """Draft a follow-up notification (supplement, change, withdrawal) to the AP."""
    from playbooks.breach import service as breach

    with acting(user) as (_settings, db, account):
        report = breach.create_followup(
            db=db, clock=clock(), actor=account.username, report_id=report_id,
            purpose=purpose,
        )  # fmt: skip
    typer.echo(f"report {report.id} (follow-up) drafted")


def report_command(
    report_id: ReportId,
    output: Annotated[Path, typer.Option("--output", "-o", help="File (.pdf or .json).")],
) -> None:
    """Export a report as PDF or JSON; both carry the SHA-256 of its content."""
    from playbooks.breach import service as breach

    with unit() as (settings, db):
        if output.suffix == ".pdf":
            output.write_bytes(
                breach.report_pdf(db=db, clock=clock(), settings=settings, report_id=report_id)
            )
        else:
            data = breach.report_json(db=db, clock=clock(), settings=settings, report_id=report_id)
            output.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    typer.echo(f"written {output}")
