"""`dijkwacht collectors status`: per-source counters, silence, spool depth and dead letters."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import typer
from rich.console import Console
from rich.table import Table

from core.config import Settings
from core.errors import ConfigError
from dijkwacht.commands.common import settings_or_exit

app = typer.Typer(
    help="Collector status (ingest tokens: `dijkwacht tokens`).", no_args_is_help=True
)


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


@app.command("status")
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
