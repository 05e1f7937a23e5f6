"""`dijkwacht inventory import|list` and the expected log sources (`sources|expect|forget`)."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

app = typer.Typer(
    help="The software inventory and the log sources that must be sending.",
    no_args_is_help=True,
)


def actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def unit(*, write: bool) -> Iterator[tuple[Settings, Session]]:
    """The command's unit of work; a refused input ends it with its field and code 2."""
    from rich.markup import escape

    from core.errors import NotFoundError, ValidationError

    try:
        with command_unit(write=write) as (settings, db):
            yield settings, db
    except NotFoundError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(code=1) from None
    except ValidationError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(code=2) from None


def print_issues(issues: list[object]) -> None:
    from rich.markup import escape

    for issue in issues:
        console.print(escape(str(issue)), soft_wrap=True)


@app.command("import")
def import_command(
    path: Annotated[Path, typer.Argument(help="A CSV file, or a CycloneDX JSON SBOM (--sbom).")],
    sbom: Annotated[bool, typer.Option("--sbom", help="The file is a CycloneDX SBOM.")] = False,
    owner: Annotated[
        str | None, typer.Option("--owner", help="Owner of every component (SBOM only).")
    ] = None,
    exposure: Annotated[
        str, typer.Option("--exposure", help="internet or internal (SBOM only).")
    ] = "internal",
) -> None:
    """Add or update inventory items; prints counts and every located problem.

    Exits 1 when any row or component was refused (the others are stored).
    """
    from core.clock import SystemClock

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        console.print(f"[red]{path}: cannot read: {exc}[/red]")
        raise typer.Exit(code=2) from None
    from advisories import service

    with unit(write=True) as (settings, db):
        report = service.import_inventory(
            db=db,
            clock=SystemClock(),
            text=text,
            source=str(path),
            actor=actor(),
            kind="cyclonedx" if sbom else "csv",
            owner=owner,
            exposure=exposure,
            silence_minutes=settings.source_silent_minutes,
        )
    print_issues(list(report.issues))
    typer.echo(
        f"inventory: {report.added} added, {report.updated} updated, {report.errors} refused"
    )
    if report.errors:
        raise typer.Exit(code=1)


@app.command("list")
def list_command() -> None:
    """Every item: id, vendor, product, version, owner, exposure, identifiers, open advisories."""
    from advisories import service
    from core.clock import SystemClock

    with unit(write=False) as (_settings, db):
        open_rows = service.overview(db=db, clock=SystemClock())
        per_item: dict[int, int] = {}
        for row in open_rows:
            per_item[row.item.id] = per_item.get(row.item.id, 0) + 1
        for item in service.list_items(db=db):
            ident = item.purl or item.cpe or "-"
            typer.echo(
                f"#{item.id} {item.vendor} {item.product} {item.version} · {item.owner} · "
                f"{item.exposure} · {ident} · open advisories {per_item.get(item.id, 0)}"
            )


@app.command("sources")
def sources_command() -> None:
    """The expected log sources with their limits and where they came from."""
    from collectors import service

    with unit(write=False) as (_settings, db):
        for row in service.list_expected(db=db):
            volume = f"{row.expected_per_hour}/h" if row.expected_per_hour is not None else "-"
            flag = " · ALERTED" if row.alerted_at else ""
            typer.echo(
                f"{row.name} · max silence {row.max_silence_minutes} min · volume {volume}"
                f" · {row.origin}{flag}"
            )


@app.command("expect")
def expect_command(
    name: Annotated[str, typer.Argument(help="Source name as the collectors page shows it.")],
    max_silence: Annotated[
        int, typer.Option("--max-silence", help="Minutes of silence before an alert.")
    ],
    per_hour: Annotated[
        int | None, typer.Option("--per-hour", help="Expected events per hour.")
    ] = None,
    note: Annotated[str | None, typer.Option("--note", help="Why it must send.")] = None,
) -> None:
    """Add a log source that must be sending (or change its limits)."""
    from collectors import service
    from core.clock import SystemClock

    with unit(write=True) as (_settings, db):
        row = service.expect_source(
            db=db, clock=SystemClock(), name=name, max_silence_minutes=max_silence,
            expected_per_hour=per_hour, note=note, actor=actor(),
        )  # fmt: skip
        typer.echo(f"expected source {row.name}: max silence {row.max_silence_minutes} min")


@app.command("forget")
def forget_command(
    name: Annotated[str, typer.Argument(help="Source name.")],
) -> None:
    """Take a source off the list of expected sources."""
    from collectors import service
    from core.clock import SystemClock

    with unit(write=True) as (_settings, db):
        service.forget_source(db=db, clock=SystemClock(), name=name, actor=actor())
        typer.echo(f"{name} is no longer expected")
