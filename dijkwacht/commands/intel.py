"""`dijkwacht intel import|list|expire|hunt|export`: threat-intel indicators from the command
line, through the same services and flows as the scheduled refresh and the /intel page."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from core.clock import utc_iso
from dijkwacht.commands.common import console, output_dir, settings_or_exit
from dijkwacht.commands.units import command_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.config import Settings

app = typer.Typer(
    help="Threat-intel indicators: import, list, expire, hunt, share.", no_args_is_help=True
)


def _fail(exc: Exception) -> None:
    console.print(str(exc), style="red", markup=False, soft_wrap=True)


@contextmanager
def _unit(*, write: bool) -> Iterator[tuple[Settings, Session]]:
    from core.errors import NotFoundError, ValidationError

    try:
        with command_unit(write=write) as (settings, db):
            yield settings, db
    except NotFoundError as exc:
        _fail(exc)
        raise typer.Exit(code=1) from None
    except ValidationError as exc:
        _fail(exc)
        raise typer.Exit(code=2) from None


@contextmanager
def _sessions() -> Iterator[tuple[Settings, Any]]:
    from core.store.relational import create_db_engine, create_session_factory, migrate

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        yield settings, create_session_factory(engine)
    finally:
        engine.dispose()


@app.command("import")
def import_command(
    location: Annotated[str, typer.Argument(help="A file, a folder or an http(s):// URL.")],
    fmt: Annotated[
        str, typer.Option("--format", help="misp-feed, misp, stix, csv or warninglist.")
    ],
    source: Annotated[str, typer.Option("--source", help="The feed's name, e.g. ibd.")],
    confidence: Annotated[
        int | None, typer.Option(help="Confidence for indicators without one (0-100).")
    ] = None,
    tlp: Annotated[str | None, typer.Option(help="TLP for indicators without one.")] = None,
    hunt: Annotated[bool, typer.Option(help="Retro-hunt the new indicators.")] = True,
) -> None:
    """Import a feed; print its counts and every located problem, then retro-hunt."""
    from core.clock import SystemClock
    from core.errors import ValidationError
    from intel.service import import_and_hunt

    with _sessions() as (settings, sessions):
        try:
            outcome = import_and_hunt(
                settings=settings,
                clock=SystemClock(),
                sessions=sessions,
                location=location,
                fmt=fmt,
                source=source,
                confidence=confidence,
                tlp=tlp,
                hunt=hunt,
                actor=f"cli:{getpass.getuser()}",
            )
        except ValidationError as exc:
            _fail(exc)
            raise typer.Exit(code=2) from None
    report = outcome.report
    typer.echo(
        f"{source}: " + ", ".join(f"{name} {count}" for name, count in report.counts().items())
    )
    for issue in report.problems:
        typer.echo(f"problem: {issue}")
    if outcome.hunt is not None:
        typer.echo(
            f"retro-hunt: {outcome.hunt.events} events, {outcome.hunt.matches} matches, "
            f"{outcome.hunt.alerts} new alerts"
            + (" (window truncated)" if outcome.hunt.truncated else "")
        )


@app.command("list")
def list_command(
    type_: Annotated[str | None, typer.Option("--type", help="ipv4, domain, sha256, ...")] = None,
    source: Annotated[str | None, typer.Option(help="Only this source.")] = None,
    value: Annotated[str | None, typer.Option(help="Value contains this text.")] = None,
    expired: Annotated[bool, typer.Option("--expired", help="Expired ones instead.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many (1-1000).")] = 100,
) -> None:
    """Indicators, newest first: type, value, source, confidence → current score, TLP."""
    from core.clock import SystemClock
    from intel import service

    with _unit(write=False) as (settings, db):
        rows, total = service.list_indicators(
            db=db,
            clock=SystemClock(),
            settings=settings,
            type=type_,
            source=source,
            value=value,
            active=not expired,
            limit=limit,
        )
    for row in rows:
        state = "active" if row.active else "inactive"
        until = utc_iso(row.valid_until) if row.valid_until else "-"
        techniques = ",".join(row.techniques) or "-"
        typer.echo(
            f"#{row.id} {row.type} {row.value} · {row.source} · confidence {row.confidence}"
            f" → score {row.score} · TLP:{row.tlp.upper()} · until {until} · {techniques}"
            f" · {state}"
        )
    typer.echo(f"{len(rows)} of {total}")


@app.command("expire")
def expire_command(
    source: Annotated[str | None, typer.Option(help="Expire every indicator of it.")] = None,
    ids: Annotated[list[int] | None, typer.Option("--id", help="Expire this one.")] = None,
) -> None:
    """Expire indicators: by --id, by --source, or (neither) all past valid-until or decayed."""
    from core.clock import SystemClock
    from intel import service

    with _unit(write=True) as (settings, db):
        count = service.expire(
            db=db, clock=SystemClock(), settings=settings, source=source, ids=ids or []
        )
    typer.echo(f"expired {count} indicators")


@app.command("hunt")
def hunt_command() -> None:
    """Retro-hunt every active indicator over the stored events of `intel_hunt_window_hours`."""
    from core.clock import SystemClock
    from intel.service import hunt_keys

    with _sessions() as (settings, sessions):
        report, _ = hunt_keys(settings=settings, clock=SystemClock(), sessions=sessions, keys=None)
    typer.echo(
        f"{report.indicators} indicators over {report.events} events: {report.matches} matches,"
        f" {report.alerts} new alerts" + (" (window truncated)" if report.truncated else "")
    )


@app.command("export")
def export_command(
    incident_id: Annotated[int, typer.Argument(help="The incident to share.")],
    fmt: Annotated[str, typer.Option("--format", help="stix or misp.")] = "stix",
    tlp: Annotated[str, typer.Option(help="clear, green, amber or red.")] = "amber",
    output: Annotated[Path | None, typer.Option(help="File to write.")] = None,
) -> None:
    """Write the incident's shareable observables for the sector CERT (never exercise data,
    never residents' personal data); says what it withheld and why."""
    from core.clock import SystemClock
    from intel import service

    with _unit(write=True) as (settings, db):
        export = service.export_incident(
            db=db,
            clock=SystemClock(),
            incident_id=incident_id,
            fmt=fmt,
            tlp=tlp,
            organisation=settings.organisation_name,
            actor=f"cli:{getpass.getuser()}",
        )
    target = output or output_dir(settings, "intel") / export.filename
    target.write_text(export.content, encoding="utf-8")
    typer.echo(f"wrote {target}: {export.shared} observables shared")
    for reason, count in export.withheld.items():
        typer.echo(f"withheld {count}: {reason}")
