"""`dijkwacht rules check | test | list | enable | disable | lucene`: Sigma rules from the shell."""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from dijkwacht.commands.common import console, json_objects, settings_or_exit, write_unit

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEFAULT_STACK = "none"


app = typer.Typer(help="Sigma rule tools.", no_args_is_help=True)


@contextmanager
def _session() -> Iterator[Session]:
    from core.store.relational import create_db_engine, create_session_factory, migrate

    settings = settings_or_exit()
    migrate(settings)
    engine = create_db_engine(settings)
    try:
        with create_session_factory(engine)() as db:
            yield db
    finally:
        engine.dispose()


@app.command("check")
def check(
    rules_dir: Annotated[Path, typer.Argument(help="Folder (or file) of Sigma rules.")],
) -> None:
    """List every rule that fails to load (file, rule id, field, reason); exit 1 if any."""
    from detection.service import check_rules

    if not rules_dir.exists():
        console.print(f"[red]not found: {rules_dir}[/red]")
        raise typer.Exit(code=2)
    problems = check_rules(paths=[rules_dir])
    for problem in problems:
        typer.echo(str(problem))
    if problems:
        raise typer.Exit(code=1)
    typer.echo("all rules load")


@app.command("test")
def test(
    rule: Annotated[Path, typer.Argument(help="A Sigma rule file (or folder).")],
    events_file: Annotated[Path, typer.Argument(help="Events, one JSON object per line.")],
    pipeline: Annotated[
        list[str] | None,
        typer.Option("--pipeline", "-p", help="Pipeline stack(s), as for `dijkwacht detect`."),
    ] = None,
) -> None:
    """Show which events RULE matches and why: the selections that were true, their values."""
    from detection.service import explain

    for path, what in ((rule, "rule"), (events_file, "events file")):
        if not path.exists():
            console.print(f"[red]{what} not found: {path}[/red]")
            raise typer.Exit(code=2)
    found, problems = explain(
        rule_path=rule, events=list(json_objects(events_file)), stacks=pipeline or [DEFAULT_STACK]
    )
    for problem in problems:
        typer.echo(f"note: {problem}", err=True)
    for item in found:
        typer.echo(f"line {item.line}: {item.rule_id} ({item.title}) [{item.stack}]")
        for selection in item.selections:
            values = item.values.get(selection, {})
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items()) or "(keywords)"
            typer.echo(f"  {selection}: {shown}")
    typer.echo(f"{len(found)} match(es)")


@app.command("list")
def list_rules(
    rules_dir: Annotated[
        Path | None, typer.Argument(help="Rules folder; without it, every rule with state.")
    ] = None,
) -> None:
    """List rules: id, title, level, enabled, hits, profiled cost."""
    from detection.service import rule_states

    with _session() as db:
        states = rule_states(db=db)
    rows: list[tuple[str, str, str]] = []
    if rules_dir is not None:
        from detection.service import check_rules, load_rules

        if not rules_dir.exists():
            console.print(f"[red]not found: {rules_dir}[/red]")
            raise typer.Exit(code=2)
        ruleset = load_rules(paths=[rules_dir])
        rows = [(r.rule_id, r.title, r.level or "-") for r in ruleset.rules]
        for problem in check_rules(paths=[rules_dir]):
            typer.echo(f"rule skipped: {problem}", err=True)
    else:
        rows = [(rule_id, "", "") for rule_id in sorted(states)]
    typer.echo("id\ttitle\tlevel\tenabled\thits\tcost_ms")
    for rule_id, title, level in rows:
        state = states.get(rule_id)
        enabled = "yes" if state is None or state.enabled else "no"
        hits = state.hits if state else 0
        cost = f"{state.cost_ns / 1e6:.1f}" if state else "0.0"
        typer.echo(f"{rule_id}\t{title}\t{level}\t{enabled}\t{hits}\t{cost}")


def _switch(rule_id: str, enabled: bool) -> None:
    from core.clock import SystemClock
    from core.errors import ValidationError
    from detection.service import set_enabled

    try:
        with write_unit(settings_or_exit()) as db:
            set_enabled(
                db=db,
                clock=SystemClock(),
                actor=f"cli:{getpass.getuser()}",
                rule_id=rule_id,
                enabled=enabled,
            )
    except ValidationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=1) from None
    typer.echo(f"rule {rule_id} {'enabled' if enabled else 'disabled'}")


@app.command("enable")
def enable(rule_id: Annotated[str, typer.Argument(help="Rule (or correlation) id.")]) -> None:
    """Switch a rule on again."""
    _switch(rule_id, True)


@app.command("disable")
def disable(rule_id: Annotated[str, typer.Argument(help="Rule (or correlation) id.")]) -> None:
    """Switch a rule off: it still matches, but raises no alerts and feeds no correlation."""
    _switch(rule_id, False)


@app.command("lucene")
def lucene(
    rule: Annotated[Path, typer.Argument(help="A Sigma rule file (or folder).")],
    pipeline: Annotated[str, typer.Option("--pipeline", "-p")] = "ecs_windows",
    store: Annotated[
        bool, typer.Option("--store", help="Keep the queries with the rules.")
    ] = False,
) -> None:
    """Print each rule's Lucene query (pySigma Elasticsearch backend), or why it has none."""
    from core.clock import SystemClock
    from core.errors import ValidationError
    from detection.service import convert_to_lucene, store_lucene

    try:
        results = convert_to_lucene(rule, pipeline=pipeline)
    except ValidationError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    for result in results:
        typer.echo(f"{result.rule_id}\t{result.query or 'unconvertible: ' + str(result.reason)}")
    if store:
        with write_unit(settings_or_exit()) as db:
            store_lucene(db=db, clock=SystemClock(), results=results)
