"""`dijkwacht breach open|facts|assess|decide|draft|answer|finalise|follow-up|report|letters|
identify|letters-approve|letters-send|close`: the whole breach journey from the command line.

Every command acts as a named account (`--as`), so the register's history says who did it;
deciding, finalising and approving need an active DPO account, as in the dashboard.
A refused input ends with the field and the problem and exit code 2; nothing is changed then.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from dijkwacht.commands.breach import app
from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.accounts.models import User
    from core.config import Settings

LIST_FIELDS = (
    "systems", "breach_types", "data_categories", "special_categories", "subject_categories",
)  # fmt: skip
As = Annotated[str, typer.Option("--as", help="Your account (username); it goes in the history.")]
# The ids every command takes, declared once.
BreachId = Annotated[int, typer.Argument(help="Breach id.")]
ReportId = Annotated[int, typer.Argument(help="Report id.")]
BatchId = Annotated[int, typer.Argument(help="Letter batch id.")]
RequestId = Annotated[int, typer.Argument(help="Request id.")]


@contextmanager
def _write() -> Iterator[tuple[Settings, Session]]:
    """One write unit; a refused input rolls it back and exits with code 2."""
    from core.errors import DijkwachtError

    try:
        with command_unit(write=True) as (settings, db):
            yield settings, db
    except DijkwachtError as problem:
        console.print(f"[red]{escape(str(problem))}[/red]")
        raise typer.Exit(code=2) from None


@contextmanager
def _acting(username: str) -> Iterator[tuple[Settings, Session, User]]:
    """One write unit as the account `--as` names (active, or the command is refused)."""
    with _write() as (settings, db):
        yield settings, db, _user(db, username)


def _json_file(path: Path, option: str) -> Any:
    """A JSON file given on the command line; unreadable or bad JSON names the option."""
    from core.errors import ValidationError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(option, f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(option, f"{path} line {exc.lineno}: {exc.msg}") from None


def escape(text: str) -> str:
    """Rich markup off for user text."""
    return text.replace("[", "\\[")


def _user(db: Session, username: str) -> User:
    from sqlalchemy import select

    from core.accounts.models import User
    from core.errors import ValidationError

    account = db.scalar(select(User).where(User.username == username))
    if account is None or not account.active:
        raise ValidationError("--as", f"no active account {username!r}")
    return account


def _pairs(items: list[str], option: str) -> dict[str, str]:
    from core.errors import ValidationError

    found = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(option, f"{item!r}: write name=value")
        found[key.strip()] = value
    return found


def _clock() -> Any:
    from core.clock import SystemClock

    return SystemClock()


@app.command("open")
def open_command(
    user: As,
    title: Annotated[str, typer.Option(help="Short title of the suspected breach.")] = "",
    facts: Annotated[str, typer.Option(help="What happened, as far as known.")] = "",
    incident: Annotated[int | None, typer.Option(help="Link to this incident number.")] = None,
) -> None:
    """Register a suspected breach (by hand or for an incident); the clocks start now."""
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        actor = account.username
        if incident is not None:
            opened = breach.open_for_incident(
                db=db, clock=_clock(), settings=settings, actor=actor, incident_id=incident,
                title=title,
            )  # fmt: skip
        else:
            opened = breach.open_breach(
                db=db, clock=_clock(), settings=settings, actor=actor, title=title,
                fields={"facts": facts} if facts else None,
            )  # fmt: skip
        typer.echo(f"breach {opened.id} {opened.reference} registered")


@app.command("facts")
def facts_command(
    breach_id: BreachId,
    user: As,
    set_: Annotated[
        list[str], typer.Option("--set", help="name=value, e.g. subjects_max=140 (repeat).")
    ],
) -> None:
    """Change facts of a breach (lists comma-separated); each change goes in the history."""
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        changes: dict[str, Any] = {}
        for name, value in _pairs(set_, "--set").items():
            if name in ("subjects_min", "subjects_max", "records_estimate"):
                changes[name] = int(value) if value.strip().isdigit() else value
            elif name in LIST_FIELDS:
                changes[name] = [v.strip() for v in value.split(",") if v.strip()]
            else:
                changes[name] = value
        breach.update_breach(
            db=db, clock=_clock(), settings=settings, actor=account.username,
            breach_id=breach_id, changes=changes,
        )  # fmt: skip
        typer.echo(f"breach {breach_id}: {len(set_)} fact(s) recorded")


@app.command("assess")
def assess_command(
    breach_id: BreachId,
    user: As,
    answers: Annotated[Path, typer.Option(help="JSON file with the assessment answers.")],
    reason: Annotated[str, typer.Option(help="Why reassess (when already decided).")] = "",
) -> None:
    """Record the ENISA/EDPB assessment; prints the severity, recommendation and why."""
    from playbooks.breach import service as breach

    with _acting(user) as (_settings, db, account):
        given = _json_file(answers, "--answers")
        actor = account.username
        if breach.get_breach(db=db, breach_id=breach_id).state != "assessing":
            breach.start_assessment(
                db=db, clock=_clock(), actor=actor, breach_id=breach_id, note=reason
            )
        outcome = breach.record_assessment(
            db=db, clock=_clock(), actor=actor, breach_id=breach_id, answers=given
        )
    typer.echo(f"severity: {outcome.band} (score {outcome.score:g})")
    typer.echo(f"recommendation: {outcome.recommendation}")
    for line in outcome.reasons:
        typer.echo(f"  - {line}")


@app.command("decide")
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

    with _acting(user) as (_settings, db, account):
        if decision == "not_a_breach":
            breach.mark_not_a_breach(
                db=db, clock=_clock(), actor=account.username, breach_id=breach_id, reason=reason
            )
        else:
            breach.decide(
                db=db, clock=_clock(), dpo=account, breach_id=breach_id, decision=decision,
                reason=reason,
            )  # fmt: skip
    typer.echo(f"breach {breach_id}: decided {decision}")


@app.command("draft")
def draft_command(
    breach_id: BreachId,
    user: As,
    kind: Annotated[
        str, typer.Option(help="ap_initial, nis2_early_warning, nis2_notification or nis2_final.")
    ] = "ap_initial",
) -> None:
    """Draft the AP notification (or a NIS2/Cbw report); prints what is still missing."""
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        actor = account.username
        if kind == "ap_initial":
            report = breach.draft_notification(
                db=db, clock=_clock(), settings=settings, actor=actor, breach_id=breach_id
            )
        else:
            report = breach.draft_nis2_report(
                db=db, clock=_clock(), settings=settings, actor=actor, breach_id=breach_id,
                kind=kind,
            )  # fmt: skip
        missing = breach.missing(report.kind, report.content)
    typer.echo(f"report {report.id} ({report.kind}) drafted; {len(missing)} question(s) open")
    for item in missing:
        typer.echo(f"  - {item}")


@app.command("answer")
def answer_command(
    report_id: ReportId,
    user: As,
    answers: Annotated[
        Path, typer.Option(help='JSON file {"section.key": value}; dates ISO 8601 with zone.')
    ],
) -> None:
    """Answer questions of a draft report; prints what is still missing."""
    from playbooks.breach import service as breach

    with _acting(user) as (_settings, db, account):
        given = _json_file(answers, "--answers")
        actor = account.username
        report = breach.get_report(db=db, report_id=report_id)
        update = (
            breach.update_notification
            if report.kind.startswith("ap_")
            else breach.update_nis2_report
        )
        update(db=db, clock=_clock(), actor=actor, report_id=report_id, changes=given)
        missing = breach.missing(report.kind, report.content)
    typer.echo(f"report {report_id}: {len(missing)} question(s) open")
    for item in missing:
        typer.echo(f"  - {item}")


@app.command("finalise")
def finalise_command(
    report_id: ReportId,
    user: As,
) -> None:
    """Mark the report as sent (frozen); prints its SHA-256. Refused while anything is missing."""
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        report = breach.get_report(db=db, report_id=report_id)
        finalise = (
            breach.finalise_notification
            if report.kind.startswith("ap_")
            else breach.finalise_nis2_report
        )
        finalise(db=db, clock=_clock(), settings=settings, dpo=account, report_id=report_id)
        digest = breach.content_sha256(report)
    typer.echo(f"report {report_id} final; sha256 {digest}")


@app.command("follow-up")
def followup_command(
    report_id: Annotated[int, typer.Argument(help="The first AP notification's id.")],
    user: As,
    purpose: Annotated[
        Literal["aanvulling", "wijziging", "intrekking"], typer.Option(help="Why.")
    ] = "aanvulling",
) -> None:
    """Draft a follow-up notification (supplement, change, withdrawal) to the AP."""
    from playbooks.breach import service as breach

    with _acting(user) as (_settings, db, account):
        report = breach.create_followup(
            db=db, clock=_clock(), actor=account.username, report_id=report_id,
            purpose=purpose,
        )  # fmt: skip
    typer.echo(f"report {report.id} (follow-up) drafted")


@app.command("report")
def report_command(
    report_id: ReportId,
    output: Annotated[Path, typer.Option("--output", "-o", help="File (.pdf or .json).")],
) -> None:
    """Export a report as PDF or JSON; both carry the SHA-256 of its content."""
    from playbooks.breach import service as breach

    with command_unit(write=False) as (settings, db):
        if output.suffix == ".pdf":
            output.write_bytes(
                breach.report_pdf(db=db, clock=_clock(), settings=settings, report_id=report_id)
            )
        else:
            data = breach.report_json(db=db, clock=_clock(), settings=settings, report_id=report_id)
            output.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    typer.echo(f"written {output}")


@app.command("letters")
def letters_command(
    breach_id: BreachId,
    user: As,
    texts: Annotated[Path, typer.Option(help='JSON {"nl": {...}, "en": {...}} letter texts.')],
    recipients: Annotated[
        Path | None, typer.Option(help="CSV of the people affected (instead of --subjects).")
    ] = None,
    subjects: Annotated[
        list[str],
        typer.Option(
            help="Affected residents from the incident: 'all' or a pseudonym (repeat). Each "
            "gets a re-identification request; identify them with 'breach identify'."
        ),
    ] = [],  # noqa: B006
) -> None:
    """Draft a batch of letters to the people affected; another DPO approves it."""
    from core.errors import ValidationError
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        if bool(recipients) == bool(subjects):
            raise ValidationError("--recipients", "give either --recipients CSV or --subjects")
        if recipients is not None:
            batch = breach.create_letter_batch(
                db=db, clock=_clock(), actor=account.username, breach_id=breach_id,
                recipients_csv=recipients.read_text(encoding="utf-8"),
                texts=_json_file(texts, "--texts"),
            )  # fmt: skip
        else:
            chosen = _affected(settings, db, breach_id) if subjects == ["all"] else subjects
            batch = breach.create_batch_for_subjects(
                db=db, clock=_clock(), actor=account.username, actor_role=account.role,
                breach_id=breach_id, subjects=chosen, texts=_json_file(texts, "--texts"),
            )  # fmt: skip
        for person in breach.awaiting(breach.recipients(db=db, batch_id=batch.id)):
            typer.echo(f"  recipient {person.id}\t{person.identifier}\t{person.pseudonym}")
    typer.echo(f"letter batch {batch.id} drafted; a second DPO approves it")


def _affected(settings: Settings, db: Session, breach_id: int) -> list[str]:
    from core.store.factory import open_alert_store, open_event_store
    from playbooks.breach import service as breach

    alerts, events = open_alert_store(settings, clock=_clock()), open_event_store(settings)
    try:
        return breach.affected_subjects(db=db, alerts=alerts, events=events, breach_id=breach_id)
    finally:
        alerts.close()
        events.close()


@app.command("identify")
def identify_command(
    batch_id: BatchId,
    recipient_id: Annotated[int, typer.Argument(help="Recipient id ('breach letters' lists it).")],
    user: As,
    name: Annotated[str, typer.Option(help="The resident's name as in the BRP.")],
    address: Annotated[str, typer.Option(help="Street and number.")] = "",
    postcode: Annotated[str, typer.Option()] = "",
    city: Annotated[str, typer.Option()] = "",
    email: Annotated[str, typer.Option(help="E-mail address, for a letter by e-mail.")] = "",
    language: Annotated[Literal["nl", "en"], typer.Option()] = "nl",
) -> None:
    """Verify the BSN you looked up in the BRP (read from stdin, never stored) against the
    recipient's pseudonym; on a match the name and address go on the letter."""
    from core.privacy.service import Pseudonymiser
    from playbooks.breach import service as breach

    bsn = typer.get_text_stream("stdin").readline().strip().replace(" ", "")
    details = {"name": name, "address": address, "postcode": postcode, "city": city,
               "email": email, "language": language}  # fmt: skip
    with _acting(user) as (settings, db, account):
        pseudonymiser = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
        outcome = breach.identify_recipient(
            db=db, clock=_clock(), actor=account.username, batch_id=batch_id,
            recipient_id=recipient_id, candidate_bsn=bsn, pseudonymiser=pseudonymiser,
            details=details,
        )  # fmt: skip
        if not outcome.matched:
            # The attempt counts (it is committed): attempts per approval are capped.
            console.print("[red]bsn: this BSN is not the resident behind the pseudonym[/red]")
    if not outcome.matched:
        raise typer.Exit(code=2)
    typer.echo(f"recipient {recipient_id} identified ({outcome.recipient.identifier})")


@app.command("letters-approve")
def letters_approve_command(batch_id: BatchId, user: As) -> None:
    """Approve a letter batch (four eyes: not its drafter)."""
    from playbooks.breach import service as breach

    with _acting(user) as (_settings, db, account):
        breach.approve_letter_batch(db=db, clock=_clock(), dpo=account, batch_id=batch_id)
    typer.echo(f"letter batch {batch_id} approved")


@app.command("letters-send")
def letters_send_command(batch_id: BatchId, user: As) -> None:
    """Release approved letters; the worker e-mails them (or keeps PDFs for the post)."""
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        sent = breach.release_letter_batch(
            db=db, clock=_clock(), settings=settings, actor=account.username,
            batch_id=batch_id,
        )  # fmt: skip
    typer.echo(f"letter batch {batch_id}: {len(sent)} letter(s) queued")


@app.command("close")
def close_command(
    breach_id: BreachId,
    user: As,
    lessons: Annotated[str, typer.Option(help="Lessons learned.")],
    remedial: Annotated[str, typer.Option(help="Remedial actions, if not yet recorded.")] = "",
) -> None:
    """Close a handled breach with the lessons learned."""
    from core.errors import ValidationError
    from playbooks.breach import service as breach

    with _acting(user) as (settings, db, account):
        actor = account.username
        if remedial.strip():
            breach.update_breach(
                db=db, clock=_clock(), settings=settings, actor=actor, breach_id=breach_id,
                changes={"remedial_actions": remedial.strip()},
            )  # fmt: skip
        if not lessons.strip():
            raise ValidationError("--lessons", "write down the lessons learned")
        breach.close_breach(
            db=db, clock=_clock(), actor=actor, breach_id=breach_id,
            note=f"Lessen / lessons: {lessons.strip()}",
        )  # fmt: skip
    typer.echo(f"breach {breach_id} closed")


requests_app = typer.Typer(
    help="Residents' requests (access, rectification, erasure) and their one-month clocks.",
    no_args_is_help=True,
)
app.add_typer(requests_app, name="requests")


@requests_app.command("add")
def requests_add_command(
    user: As,
    kind: Annotated[Literal["access", "rectification", "erasure"], typer.Option(help="Kind.")],
    requester: Annotated[str, typer.Option(help="The name the resident signed with.")],
) -> None:
    """Record a request; the BSN is read from stdin (never an argument), checked and not stored."""
    from core.privacy.service import Pseudonymiser, pseudonym_of
    from playbooks.breach import service as breach_service

    bsn = typer.get_text_stream("stdin").readline().strip().replace(" ", "")
    with _acting(user) as (settings, db, account):
        pseudonymiser = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
        pseudonym = pseudonym_of(pseudonymiser, bsn)  # PrivacyError naming `bsn` if invalid
        made = breach_service.record_request(
            db=db, clock=_clock(), settings=settings, actor=account.username, kind=kind,
            requester=requester, pseudonym=pseudonym,
        )  # fmt: skip
        typer.echo(f"request {made.id} {made.reference} due {_show(made.due_at, settings)}")


def _show(moment: Any, settings: Settings) -> str:
    from playbooks.breach.service import show_time

    return show_time(moment, settings)


@requests_app.command("list")
def requests_list_command(
    open_only: Annotated[bool, typer.Option("--open", help="Only unanswered requests.")] = False,
) -> None:
    """Requests, soonest deadline first, with the time left."""
    from playbooks.breach import service as breach_service

    with command_unit(write=False) as (settings, db):
        now = _clock().now()
        for r in breach_service.list_requests(db=db, open_only=open_only):
            left = breach_service.time_left(r.due_at, now) if r.is_open else "answered"
            typer.echo(
                f"{r.id}\t{r.reference}\t{r.kind}\t{r.requester}\t"
                f"due {breach_service.show_time(r.due_at, settings)}\t{left}"
            )


@requests_app.command("extend")
def requests_extend_command(
    request_id: RequestId,
    user: As,
    reason: Annotated[str, typer.Option(help="Why more time is needed (the resident is told).")],
) -> None:
    """Extend the deadline once by two months (Art. 12(3))."""
    from playbooks.breach import service as breach_service

    with _acting(user) as (settings, db, _account):
        done = breach_service.extend_request(
            db=db, settings=settings, request_id=request_id, reason=reason
        )
        typer.echo(f"request {done.reference} now due {_show(done.due_at, settings)}")


@requests_app.command("answer")
def requests_answer_command(
    request_id: RequestId,
    user: As,
    answer: Annotated[str, typer.Option(help="The answer sent (what and how).")],
) -> None:
    """Record the answer sent; closes the request."""
    from playbooks.breach import service as breach_service

    with _acting(user) as (_settings, db, _account):
        done = breach_service.answer_request(
            db=db, clock=_clock(), request_id=request_id, answer=answer
        )
        typer.echo(f"request {done.reference} answered")


@requests_app.command("export")
def requests_export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File (.csv or .pdf).")],
) -> None:
    """The requests register as CSV or PDF (no BSN, no pseudonym)."""
    from playbooks.breach import service as breach_service

    with command_unit(write=False) as (settings, db):
        if output.suffix == ".pdf":
            output.write_bytes(
                breach_service.requests_pdf(db=db, clock=_clock(), settings=settings)
            )
        else:
            output.write_text(
                breach_service.requests_csv(db=db, settings=settings), encoding="utf-8"
            )
    typer.echo(f"written {output}")
