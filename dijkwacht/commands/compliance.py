"""`dijkwacht compliance ...`: BIO2 measures with live evidence, reports and the evidence package.

Refused input (unknown framework, year, format) ends the command with its message and exit
code 2; a package that fails verification exits 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from core.errors import DijkwachtError
from dijkwacht.commands.common import console
from dijkwacht.commands.units import command_unit

app = typer.Typer(
    help="BIO2 measures with live evidence: check, status, report, evidence package.",
    no_args_is_help=True,
)
Framework = Annotated[str, typer.Option("--framework", help="Catalogue to use (e.g. bio2).")]


@contextmanager
def _friendly() -> Iterator[None]:
    try:
        yield
    except DijkwachtError as exc:
        console.print(f"[red]{exc}[/red]", highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from None


@app.command("catalogue")
def catalogue_command(
    file: Annotated[
        Path | None, typer.Argument(help="A catalogue YAML file; default: the shipped ones.")
    ] = None,
    framework: Framework = "bio2",
) -> None:
    """Check catalogue files; each problem names the file, line and field (exit 1)."""
    from compliance import service

    issues = service.check_catalogue(file, framework)
    for issue in issues:
        typer.echo(str(issue))
    if any(issue.is_error for issue in issues):
        raise typer.Exit(code=1)
    with _friendly():
        catalogue = service.load_catalogue(framework) if file is None else None
    if catalogue is not None:
        typer.echo(
            f"{catalogue.framework} {catalogue.edition}: {len(catalogue.measures)} measures, "
            f"editions {', '.join(service.editions(framework))}"
        )


@app.command("check")
def check_command(
    framework: Framework = "bio2",
    actor: Annotated[str, typer.Option("--as", help="Who runs the check (on the record).")] = (
        "cli"
    ),
) -> None:
    """Recompute every measure's status and evidence now; alert the owners of red measures."""
    from compliance import service
    from core.clock import SystemClock
    from core.store.factory import open_alert_store, open_event_store
    from detection.service import configured_rule_paths, deliver_outbox

    clock = SystemClock()
    # The checks only read (and may take seconds); the results are stored in a short write unit.
    with command_unit(write=False) as (settings, db), _friendly():
        events = open_event_store(settings)
        try:
            evaluation = service.evaluate_measures(
                db=db,
                clock=clock,
                settings=settings,
                framework=framework,
                event_store=events,
                rule_paths=configured_rule_paths(settings),
            )
        finally:
            events.close()
    with command_unit(write=True) as (settings, db):
        run = service.record_outcomes(db=db, clock=clock, actor=actor, evaluation=evaluation)
    with command_unit(write=True) as (settings, db):
        alerts = open_alert_store(settings)
        try:
            deliver_outbox(db=db, alert_store=alerts, clock=clock)
        finally:
            alerts.close()
    for result in run.results:
        flag = " (alert raised)" if result.alerted else ""
        typer.echo(f"{result.measure_id}\t{result.status}{flag}\t{result.reason}")


@app.command("status")
def status_command(framework: Framework = "bio2") -> None:
    """Each measure's last status, when it was checked and why."""
    from compliance import service
    from core.clock import utc_iso

    with command_unit(write=False) as (_, db), _friendly():
        catalogue, views = service.measure_views(db=db, framework=framework)
    typer.echo(f"{catalogue.title} ({catalogue.edition})")
    for view in views:
        when = utc_iso(view.checked_at) if view.checked_at else "never"
        typer.echo(f"{view.measure.id}\t{view.status}\t{when}\t{view.reason}")


@app.command("report")
def report_command(
    year: Annotated[int, typer.Option("--year", help="Reporting year, e.g. 2026.")],
    framework: Framework = "bio2",
    fmt: Annotated[str, typer.Option("--format", help="pdf, html or csv.")] = "pdf",
    lang: Annotated[str, typer.Option("--lang", help="nl or en.")] = "nl",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; default: its name.")
    ] = None,
) -> None:
    """Write the report: per measure what was checked, when, by what, result, ENSIA."""
    from compliance import service
    from core.clock import SystemClock

    with command_unit(write=False) as (_, db), _friendly():
        report = service.build_report(
            db=db, clock=SystemClock(), framework=framework, year=year, fmt=fmt, lang=lang,
            actor="cli",
        )  # fmt: skip
    target = output or Path(report.filename)
    target.write_bytes(report.content)
    typer.echo(f"report written to {target} ({len(report.content)} bytes)")


@app.command("package")
def package_command(
    year: Annotated[int, typer.Option("--year", help="Reporting year, e.g. 2026.")],
    framework: Framework = "bio2",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="ZIP to write.")] = None,
    actor: Annotated[str, typer.Option("--as", help="Who exports (on the record).")] = "cli",
) -> None:
    """Write the evidence package: PDF reports, evidence files and a signed manifest."""
    from compliance import service
    from core.clock import SystemClock

    with command_unit(write=True) as (settings, db), _friendly():
        package = service.evidence_package(
            db=db, clock=SystemClock(), settings=settings, framework=framework, year=year,
            actor=actor,
        )  # fmt: skip
        service.record_package_export(
            db=db, clock=SystemClock(), actor=actor, framework=framework, year=year,
            package=package,
        )  # fmt: skip
    target = output or Path(f"{framework}-{year}-bewijspakket.zip")
    target.write_bytes(package.zip)
    typer.echo(f"package written to {target}: {len(package.manifest)} files")
    typer.echo(f"signing public key: {package.public_key}")


@app.command("verify")
def verify_command(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Package ZIP.")],
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", help="Pinned key (hex); default: this platform's key."),
    ] = None,
) -> None:
    """Check a package: every file matches the manifest and the manifest's signature holds."""
    from compliance import service
    from dijkwacht.commands.common import settings_or_exit

    key = public_key or service.public_key_hex(settings_or_exit())
    problems = service.verify_package(file.read_bytes(), public_key=key)
    for problem in problems:
        console.print(f"[red]{problem}[/red]", highlight=False, soft_wrap=True)
    if problems:
        raise typer.Exit(code=1)
    typer.echo(f"{file}: every file matches the signed manifest")
