"""`dijkwacht collect`, `dijkwacht collectors ...` and `dijkwacht deadletters ...`.

This module is a composition root: it wires detection into the spool consumer (collectors may
not import detection themselves).
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings
from core.errors import ConfigError
from dijkwacht.commands.common import (
    console,
    detection_modes_or_exit,
    settings_or_exit,
)

collectors_app = typer.Typer(
    help="Collector status (ingest tokens: `dijkwacht tokens`).", no_args_is_help=True
)
deadletters_app = typer.Typer(help="Input that could not be parsed.", no_args_is_help=True)

SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source.")]


def _detection_hook(settings: Settings) -> Any:
    """Detection behind the spool consumer: rules, correlations and alerts for each batch."""
    from dijkwacht.detection_runtime import DetectionHook

    return DetectionHook(settings=settings)


def collect(
    no_detection: Annotated[
        bool, typer.Option("--no-detection", help="Only store events; do not run detection.")
    ] = False,
) -> None:
    """Run the syslog, RELP and HTTP ingest listeners and the spool consumer until a signal."""
    from rich.markup import escape

    from collectors.processes import run_collect
    from collectors.service import data_dir_setting, describe_fault
    from dijkwacht.commands.up import data_dir_or_exit

    settings = settings_or_exit()
    if not no_detection:
        detection_modes_or_exit(settings)
    logging.basicConfig(level=settings.log_level, stream=sys.stderr)
    data_dir_or_exit(settings)

    def ready(ports: dict[str, int]) -> None:
        listening = " ".join(f"{name}={port}" for name, port in sorted(ports.items()))
        print(f"collect: ready {listening}".rstrip(), flush=True)

    try:
        on_batch = None if no_detection else _detection_hook(settings)
        run_collect(settings=settings, on_batch=on_batch, on_ready=ready)
    except Exception as exc:
        # Faults while running pause the collector; one at start-up (the spool cannot even be
        # opened) ends it with the cause, and the supervisor starts it again later.
        cause = describe_fault(exc)
        if cause is None:
            raise
        console.print(
            f"[red]collect: {escape(data_dir_setting(settings))}: {cause}[/red]", soft_wrap=True
        )
        raise typer.Exit(code=1) from None
    print("collect: stopped", flush=True)


def _expected_sources(settings: Settings) -> dict[str, timedelta]:
    """The expected sources' limits, read without migrating or waiting on a writer: a status
    command must answer even when the database is busy or not created yet (then: none)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from collectors.service import silence_limits
    from core.store.relational import create_db_engine, create_session_factory
    from core.store.unit_of_work import unit_of_work

    engine = create_db_engine(settings)
    try:
        with unit_of_work(create_session_factory(engine), write=False) as db:
            return silence_limits(db=db)
    except (OperationalError, ProgrammingError):
        return {}
    finally:
        engine.dispose()


@collectors_app.command("status")
def status() -> None:
    """Per-source counters, last seen, silent flags and spool depth; expected sources that
    never sent are listed as MISSING."""
    from collectors.service import open_spool, source_status

    settings = settings_or_exit()
    expected = _expected_sources(settings)
    silent_after = timedelta(minutes=settings.source_silent_minutes)
    with open_spool(settings) as spool:
        statuses = source_status(
            counters=spool.counters(),
            now=datetime.now(UTC),
            silent_after=silent_after,
            expected=expected,
        )
        pending = spool.pending()
    table = Table(title=f"collectors (spool pending: {pending})")
    for column in ("source", "received", "parsed", "dead-lettered", "dropped", "last seen", ""):
        table.add_column(column)
    for item in statuses:
        c = item.counters
        seen = c.last_seen.isoformat(timespec="seconds") if c.last_seen else "never"
        flag = f"SILENT {int(item.silent_for.total_seconds() // 60)} min" if item.silent_for else ""
        flag = "MISSING (expected, never seen)" if item.missing else flag
        table.add_row(
            c.source,
            str(c.received),
            str(c.parsed),
            str(c.dead_lettered),
            str(c.dropped),
            seen,
            flag,
        )
    out = Console(file=sys.stdout, width=140)
    out.print(table)
    print(f"spool pending: {pending}")
    _print_dead_letters(settings, out)
    print(_collector_state(settings))


def _print_dead_letters(settings: Settings, out: Console) -> None:
    """Dead letters of every path (live, `ingest`, HTTP, store refusals) per source."""
    from collectors.service import dead_letter_summary
    from core.store.factory import open_event_store

    try:
        store = open_event_store(settings)
    except ConfigError as exc:
        print(f"dead letters: event store unavailable ({exc})")
        return
    try:
        summary = dead_letter_summary(store=store)
    finally:
        store.close()
    print(f"dead letters: {summary.total} (see `dijkwacht deadletters list`)")
    if not summary.sources:
        return
    table = Table(title="dead letters per source")
    for column in ("source", "count", "newest"):
        table.add_column(column)
    zone = ZoneInfo(settings.timezone)
    for item in summary.sources:
        newest = item.newest.astimezone(zone).isoformat(timespec="seconds") if item.newest else ""
        table.add_row(item.source, str(item.count), newest)
    out.print(table)


def _collector_state(settings: Settings) -> str:
    """One line from the running collector's status file: running, or paused and why."""
    from core.runtime import read_collector_status

    state = read_collector_status(settings)
    if state is None:
        return "collector: no status (not started here yet)"
    line = f"collector: {state.get('state')} (pid {state.get('pid')})"
    for component, fault in sorted(state.get("paused", {}).items()):
        line += f"; {component} paused: {fault.get('reason')}"
    return line


@deadletters_app.command("list")
def deadletters_list(
    source: SourceOption = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
) -> None:
    """Dead letters oldest first: id, source, offset, size, reason."""
    from core.store.factory import open_event_store

    settings = settings_or_exit()
    store = open_event_store(settings)
    try:
        letters = store.list_dead_letters(source=source, limit=limit)
    finally:
        store.close()
    for letter in letters:
        size = letter.raw_length if letter.raw_length is not None else len(letter.raw)
        print(
            f"{letter.id}\t{letter.source}\t{letter.offset if letter.offset is not None else '-'}"
            f"\t{size}\t{letter.reason}"
        )
    console.print(f"{len(letters)} dead letter(s)")


def _parser_for(settings: Settings, fmt: str | None) -> Any:
    from collectors.service import Parser, get_parser

    tz = ZoneInfo(settings.timezone)
    cache: dict[str, Parser] = {}

    def parser_for(source: str) -> Parser | None:
        name = fmt
        if name is None:
            if source.startswith("syslog"):
                name = "syslog"
            elif source.startswith("http/"):
                name = "json"
            else:
                return None
        if name not in cache:
            cache[name] = get_parser(name, tz=tz, dataset=source.replace("/", "."))
        return cache[name]

    return parser_for


@deadletters_app.command("replay")
def deadletters_replay(
    source: SourceOption = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="Parser to use (default: by source).")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 10_000,
) -> None:
    """Re-parse dead letters with the current parsers; successes are spooled and removed."""
    from collectors.service import open_spool, replay_dead_letters
    from core.store.factory import open_event_store

    settings = settings_or_exit()
    store = open_event_store(settings)
    try:
        with open_spool(settings) as spool:
            result = replay_dead_letters(
                store=store,
                spool=spool,
                parser_for=_parser_for(settings, fmt),
                source=source,
                limit=limit,
            )
    finally:
        store.close()
    for letter_id, reason in result.still_failing:
        print(f"{letter_id}\tstill failing\t{reason}")
    for letter_id, reason in result.skipped:
        print(f"{letter_id}\tskipped\t{reason}")
    print(
        f"replayed {result.replayed}, still failing {len(result.still_failing)}, "
        f"skipped {len(result.skipped)}"
    )
