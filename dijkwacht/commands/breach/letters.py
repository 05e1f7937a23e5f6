"""`dijkwacht breach letters | identify | letters-approve | letters-send`: telling the people
affected. Approving a batch needs an active DPO account, as in the dashboard.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from dijkwacht.commands.breach.common import As, BatchId, BreachId, acting, clock, json_file
from dijkwacht.commands.common import console

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings


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

    with acting(user) as (settings, db, account):
        if bool(recipients) == bool(subjects):
            raise ValidationError("--recipients", "give either --recipients CSV or --subjects")
        if recipients is not None:
            batch = breach.create_letter_batch(
                db=db, clock=clock(), actor=account.username, breach_id=breach_id,
                recipients_csv=recipients.read_text(encoding="utf-8"),
                texts=json_file(texts, "--texts"),
            )  # fmt: skip
        else:
            chosen = _affected(settings, db, breach_id) if subjects == ["all"] else subjects
            batch = breach.create_batch_for_subjects(
                db=db, clock=clock(), actor=account.username, actor_role=account.role,
                breach_id=breach_id, subjects=chosen, texts=json_file(texts, "--texts"),
            )  # fmt: skip
        for person in breach.awaiting(breach.recipients(db=db, batch_id=batch.id)):
            typer.echo(f"  recipient {person.id}\t{person.identifier}\t{person.pseudonym}")
    typer.echo(f"letter batch {batch.id} drafted; a second DPO approves it")


def _affected(settings: Settings, db: Session, breach_id: int) -> list[str]:
    from core.store.factory import open_alert_store, open_event_store
    from playbooks.breach import service as breach

    alerts, events = open_alert_store(settings, clock=clock()), open_event_store(settings)
    try:
        return breach.affected_subjects(db=db, alerts=alerts, events=events, breach_id=breach_id)
    finally:
        alerts.close()
        events.close()


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
    with acting(user) as (settings, db, account):
        pseudonymiser = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
        outcome = breach.identify_recipient(
            db=db, clock=clock(), actor=account.username, batch_id=batch_id,
            recipient_id=recipient_id, candidate_bsn=bsn, pseudonymiser=pseudonymiser,
            details=details,
        )  # fmt: skip
        if not outcome.matched:
            # The attempt counts (it is committed): attempts per approval are capped.
            console.print("[red]bsn: this BSN is not the resident behind the pseudonym[/red]")
    if not outcome.matched:
        raise typer.Exit(code=2)
    typer.echo(f"recipient {recipient_id} identified ({outcome.recipient.identifier})")


def letters_approve_command(batch_id: BatchId, user: As) -> None:
    """Approve a letter batch (four eyes: not its drafter)."""
    from playbooks.breach import service as breach

    with acting(user) as (_settings, db, account):
        breach.approve_letter_batch(db=db, clock=clock(), dpo=account, batch_id=batch_id)
    typer.echo(f"letter batch {batch_id} approved")


def letters_send_command(batch_id: BatchId, user: As) -> None:
    """Release approved letters; the worker e-mails them (or keeps PDFs for the post)."""
    from playbooks.breach import service as breach

    with acting(user) as (settings, db, account):
        sent = breach.release_letter_batch(
            db=db, clock=clock(), settings=settings, actor=account.username,
            batch_id=batch_id,
        )  # fmt: skip
    typer.echo(f"letter batch {batch_id}: {len(sent)} letter(s) queued")
