"""`dijkwacht breach requests add | list | extend | answer | export`: residents' requests."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

from dijkwacht.commands.breach.common import As, RequestId, acting, clock, unit

if TYPE_CHECKING:
    from core.config import Settings

app = typer.Typer(
    help="Residents' requests (access, rectification, erasure) and their one-month clocks.",
    no_args_is_help=True,
)


@app.command("add")
def add_command(
    user: As,
    kind: Annotated[Literal["access", "rectification", "erasure"], typer.Option(help="Kind.")],
    requester: Annotated[str, typer.Option(help="The name the resident signed with.")],
) -> None:
    """Record a request; the BSN is read from stdin (never an argument), checked and not stored."""
    from core.privacy.service import Pseudonymiser, pseudonym_of
    from playbooks.breach import service as breach_service

    bsn = typer.get_text_stream("stdin").readline().strip().replace(" ", "")
    with acting(user) as (settings, db, account):
        pseudonymiser = Pseudonymiser(settings.secret("pseudonym_key").encode("utf-8"))
        pseudonym = pseudonym_of(pseudonymiser, bsn)  # PrivacyError naming `bsn` if invalid
        made = breach_service.record_request(
            db=db, clock=clock(), settings=settings, actor=account.username, kind=kind,
            requester=requester, pseudonym=pseudonym,
        )  # fmt: skip
        typer.echo(f"request {made.id} {made.reference} due {_show(made.due_at, settings)}")


def _show(moment: Any, settings: Settings) -> str:
    from playbooks.breach.service import show_time

    return show_time(moment, settings)


@app.command("list")
def list_command(
    open_only: Annotated[bool, typer.Option("--open", help="Only unanswered requests.")] = False,
) -> None:
    """Requests, soonest deadline first, with the time left."""
    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        now = clock().now()
        for r in breach_service.list_requests(db=db, open_only=open_only):
            left = breach_service.time_left(r.due_at, now) if r.is_open else "answered"
            typer.echo(
                f"{r.id}\t{r.reference}\t{r.kind}\t{r.requester}\t"
                f"due {breach_service.show_time(r.due_at, settings)}\t{left}"
            )


@app.command("extend")
def extend_command(
    request_id: RequestId,
    user: As,
    reason: Annotated[str, typer.Option(help="Why more time is needed (the resident is told).")],
) -> None:
    """Extend the deadline once by two months (Art. 12(3))."""
    from playbooks.breach import service as breach_service

    with acting(user) as (settings, db, _account):
        done = breach_service.extend_request(
            db=db, settings=settings, request_id=request_id, reason=reason
        )
        typer.echo(f"request {done.reference} now due {_show(done.due_at, settings)}")


@app.command("answer")
def answer_command(
    request_id: RequestId,
    user: As,
    answer: Annotated[str, typer.Option(help="The answer sent (what and how).")],
) -> None:
    """Record the answer sent; closes the request."""
    from playbooks.breach import service as breach_service

    with acting(user) as (_settings, db, _account):
        done = breach_service.answer_request(
            db=db, clock=clock(), request_id=request_id, answer=answer
        )
        typer.echo(f"request {done.reference} answered")


@app.command("export")
def export_command(
    output: Annotated[Path, typer.Option("--output", "-o", help="File (.csv or .pdf).")],
) -> None:
    """The requests register as CSV or PDF (no BSN, no pseudonym)."""
    from playbooks.breach import service as breach_service

    with unit() as (settings, db):
        if output.suffix == ".pdf":
            output.write_bytes(breach_service.requests_pdf(db=db, clock=clock(), settings=settings))
        else:
            output.write_text(
                breach_service.requests_csv(db=db, settings=settings), encoding="utf-8"
            )
    typer.echo(f"written {output}")
