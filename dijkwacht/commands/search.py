"""`dijkwacht search`: stored events by time, fields and text."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.table import Table

from core.errors import ValidationError
from core.events import get_field
from core.store.base import EventQuery
from dijkwacht.commands.common import console, event_store_or_exit, settings_or_exit


def _parse_time(value: str | None, *, option: str, zone: ZoneInfo) -> datetime | None:
    """ISO 8601 date or date-time; without a zone it is read in the configured time zone."""
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        console.print(f"[red]{option}: not an ISO 8601 date-time: {value!r}[/red]")
        raise typer.Exit(code=2) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def _parse_filters(pairs: list[str]) -> dict[str, Any]:
    """PATH=VALUE pairs; a repeated path means any of its values."""
    from core.store.sqlite_event_sql import INDEXED_COLUMNS

    filters: dict[str, list[Any]] = {}
    for pair in pairs:
        path, sep, value = pair.partition("=")
        path = path.strip()
        if not sep or not path:
            console.print(f"[red]--field: expected PATH=VALUE, got {pair!r}[/red]")
            raise typer.Exit(code=2)
        candidates: list[Any] = [value]
        if path not in INDEXED_COLUMNS:
            # The command line only has text; a JSON field may hold the number or boolean.
            try:
                parsed = orjson.loads(value)
            except orjson.JSONDecodeError:
                parsed = None
            if isinstance(parsed, int | float) and not isinstance(parsed, bool):
                candidates.append(parsed)
            elif isinstance(parsed, bool):
                candidates.append(int(parsed))
        filters.setdefault(path, []).extend(candidates)
    return {path: values[0] if len(values) == 1 else values for path, values in filters.items()}


def search(
    start: Annotated[
        str | None,
        typer.Option("--from", help="Start (inclusive), ISO 8601; no zone: the configured one."),
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="End (exclusive), ISO 8601.")] = None,
    fields: Annotated[
        list[str] | None,
        typer.Option("--field", help="PATH=VALUE exact match on an ECS path; repeatable."),
    ] = None,
    text: Annotated[
        str | None, typer.Option("--text", help="Words that must all occur in event.original.")
    ] = None,
    limit: Annotated[int, typer.Option(min=0, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    order: Annotated[str, typer.Option(help="desc (newest first) or asc.")] = "desc",
    as_json: Annotated[
        bool, typer.Option("--json", help='JSON lines: {"id": ..., "event": {...}}.')
    ] = False,
) -> None:
    """Search stored events by time, fields and text."""
    if order not in ("asc", "desc"):
        console.print(f"[red]--order: must be asc or desc, got {order!r}[/red]")
        raise typer.Exit(code=2)
    settings = settings_or_exit()
    zone = ZoneInfo(settings.timezone)
    direction: Literal["asc", "desc"] = "asc" if order == "asc" else "desc"
    query = EventQuery(
        start=_parse_time(start, option="--from", zone=zone),
        end=_parse_time(end, option="--to", zone=zone),
        filters=_parse_filters(fields or []),
        text=text,
        limit=limit,
        offset=offset,
        order=direction,
    )
    store = event_store_or_exit(settings)
    try:
        found = store.search(query)
        total = store.count(query)
    except ValidationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    finally:
        store.close()
    if as_json:
        for item in found:
            typer.echo(orjson.dumps({"id": item.id, "event": item.event}).decode())
        return
    table = Table(title=f"{len(found)} of {total} event(s)", show_lines=False)
    table.add_column("time", no_wrap=True, min_width=24)
    for column in ("dataset", "host", "user", "source ip"):
        table.add_column(column, overflow="ellipsis")
    table.add_column("original", overflow="fold")
    for item in found:
        event = item.event
        original = str(get_field(event, "event.original", ""))
        table.add_row(
            str(get_field(event, "@timestamp", "")),
            str(get_field(event, "event.dataset", "")),
            str(get_field(event, "host.name", "") or ""),
            str(get_field(event, "user.name", "") or ""),
            str(get_field(event, "source.ip", "") or ""),
            original if len(original) <= 200 else original[:199] + "…",
        )
    Console().print(table)
