"""`dijkwacht ingest` and `dijkwacht search`: files into the event store, events back out.

Ingest reads records through a *format reader* (`ecs-json` here; every parser format, EVTX and
pcap come from `dijkwacht.commands.ingest_formats`). A reader turns a binary file into
`Record`s, each either an event or the reason it is not one; valid events are stored in
batches, the rest goes to the dead-letter table with file, line, byte offset and reason, so
nothing read is lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO, Literal
from zoneinfo import ZoneInfo

import orjson
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from core.config import Settings
from core.errors import ConfigError, ValidationError
from core.events import Event, get_field, validate_event
from core.store.base import DeadLetter, EventQuery, EventStore, InvalidEventError
from dijkwacht.commands.common import console, settings_or_exit
from dijkwacht.commands.ingest_formats import (
    FORMATS,
    format_choices,
    reader_for,
    sniff_file,
)

# One line longer than this is not an event but a runaway (a binary file, a missing newline);
# it is dead-lettered instead of being read into memory whole.
MAX_LINE_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class Record:
    """One unit a reader found: an event, or the reason the raw bytes are not one."""

    line: int
    offset: int
    raw: bytes
    event: Event | None = None
    reason: str | None = None
    raw_length: int | None = None
    damaged: bool = False  # a damaged part of a binary file (EVTX chunk or record, pcap block)


Reader = Callable[[BinaryIO], Iterator[Record]]


def read_ecs_json(handle: BinaryIO) -> Iterator[Record]:
    """JSON lines, one ECS event per line; blank lines are skipped."""
    offset = 0
    line_no = 0
    while True:
        raw = handle.readline(MAX_LINE_BYTES + 1)
        if not raw:
            return
        line_no += 1
        start = offset
        offset += len(raw)
        if len(raw) > MAX_LINE_BYTES and not raw.endswith(b"\n"):
            length = len(raw)
            while raw and not raw.endswith(b"\n"):  # skip the rest of the runaway line
                more = handle.readline(MAX_LINE_BYTES)
                if not more:
                    break
                length += len(more)
                offset += len(more)
                raw = more
            yield Record(
                line_no,
                start,
                raw=b"",
                reason=f"line longer than {MAX_LINE_BYTES} bytes ({length} bytes)",
                raw_length=length,
            )
            continue
        body = raw.rstrip(b"\r\n")
        if not body.strip():
            continue
        yield _parse_ecs_line(line_no, start, body)


def _parse_ecs_line(line_no: int, offset: int, body: bytes) -> Record:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(line_no, offset, body, reason=f"invalid UTF-8 at byte {exc.start}")
    try:
        event = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        return Record(line_no, offset, body, reason=f"bad JSON: {exc}")
    try:
        validate_event(event)
    except ValidationError as exc:
        return Record(line_no, offset, body, reason=f"invalid event: {exc}")
    return Record(line_no, offset, body, event=event)


READERS: dict[str, Reader] = {"ecs-json": read_ecs_json}


@dataclass(slots=True)
class _Totals:
    stored: int = 0
    dead: int = 0
    damaged: int = 0
    files_read: int = 0
    unplaced: int = 0  # files whose format `auto` could not tell


class _BatchWriter:
    """Collects records and writes events and dead letters in batches of the configured size."""

    def __init__(self, *, store: EventStore, batch_size: int, totals: _Totals) -> None:
        self._store = store
        self._size = batch_size
        self._totals = totals
        self._events: list[Event] = []
        self._origins: list[Record] = []
        self._letters: list[DeadLetter] = []

    def add(self, record: Record, *, source: str) -> None:
        if record.event is not None:
            self._events.append(record.event)
            self._origins.append(record)
            if len(self._events) >= self._size:
                self.flush(source=source)
        else:
            self._totals.damaged += record.damaged
            self._letter(record, reason=record.reason or "unreadable", source=source)
            if len(self._letters) >= self._size:
                self.flush(source=source)

    def _letter(self, record: Record, *, reason: str, source: str) -> None:
        self._letters.append(
            DeadLetter(
                source=source,
                reason=f"line {record.line}: {reason}",
                raw=record.raw,
                offset=record.offset,
                raw_length=record.raw_length,
            )
        )

    def flush(self, *, source: str) -> None:
        """Write pending events; an event the store still refuses is dead-lettered, not lost."""
        events, origins = self._events, self._origins
        while events:
            try:
                self._store.add_batch(events)
            except InvalidEventError as exc:
                self._letter(origins[exc.index], reason=f"refused by store: {exc}", source=source)
                del events[exc.index], origins[exc.index]
                continue
            self._totals.stored += len(events)
            break
        self._events, self._origins = [], []
        if self._letters:
            self._store.add_dead_letters(self._letters)
            self._totals.dead += len(self._letters)
            self._letters = []


def _open_store(settings: Settings) -> EventStore:
    from core.store.factory import open_event_store

    try:
        return open_event_store(settings)
    except ConfigError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None


def ingest(
    files: Annotated[
        list[Path], typer.Argument(help="Files to read, e.g. JSON lines of ECS events.")
    ],
    fmt: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help=f"Input format: {', '.join([*READERS, *FORMATS])}. auto: told by content "
            "(EVTX and pcap by magic bytes; JSON lines, syslog, auth.log, access logs and "
            "app-audit JSON/CSV by their first lines); a file it cannot tell is refused.",
        ),
    ] = "auto",
) -> None:
    """Store the events of FILES; lines that are not valid events go to the dead-letter table.

    Exits 1 when nothing was stored although there was input (every line refused, or no file
    read or recognised), with the --format choices.
    """
    known = [*READERS, *FORMATS]
    if fmt not in known:
        console.print(f"[red]--format: unknown format {fmt!r}; known: {', '.join(known)}[/red]")
        raise typer.Exit(code=2)
    settings = settings_or_exit()
    readers: dict[str, Reader] = dict(READERS)

    def reader_of(path: Path) -> tuple[str, Reader] | None:
        name = _auto_format(path) if fmt == "auto" else fmt
        if name is None:
            return None
        if name not in readers:
            try:
                found = reader_for(name, settings=settings)
            except ConfigError as exc:
                console.print(f"[red]--format {name}: {exc}[/red]")
                raise typer.Exit(code=2) from None
            assert found is not None  # every name in `known` has a reader
            readers[name] = found
        return name, readers[name]

    totals = _Totals()
    store = _open_store(settings)
    try:
        writer = _BatchWriter(store=store, batch_size=settings.ingest_batch_size, totals=totals)
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=console,
        ) as progress:
            for path in files:
                chosen = reader_of(path)
                if chosen is None:
                    totals.unplaced += 1
                    continue
                name, reader = chosen
                before = (totals.stored, totals.dead)
                if _ingest_file(path, reader=reader, writer=writer, progress=progress):
                    totals.files_read += 1
                    if totals.stored == before[0] and totals.dead > before[1]:
                        console.print(
                            f"[yellow]{path}: no line could be read as {name}; if it is "
                            "another format, name it with --format[/yellow]",
                            soft_wrap=True,
                        )
    finally:
        store.close()
    console.print(
        f"stored {totals.stored} event(s), dead-lettered {totals.dead} line(s) "
        f"from {totals.files_read} of {len(files)} file(s); damaged {totals.damaged} "
        "part(s) of EVTX/pcap files"
    )
    if totals.files_read == 0 or (totals.stored == 0 and (totals.dead or totals.unplaced)):
        if totals.dead or totals.unplaced:
            console.print(
                f"nothing stored. Formats ingest reads:\n{format_choices()}", soft_wrap=True
            )
        raise typer.Exit(code=1)


def _auto_format(path: Path) -> str | None:
    """The format `auto` picks for `path` (printed with the reason); None, with a hint, when
    the content does not tell. A file that cannot be opened goes on to be reported as such."""
    try:
        if path.stat().st_size == 0:
            return "ecs-json"  # empty: nothing to read, nothing to guess
        sniffed = sniff_file(path)
    except OSError:
        return "ecs-json"  # _ingest_file names the error
    if sniffed is None:
        console.print(
            f"[red]{path}: cannot tell its format from the content; name it with --format "
            f"(one of: {', '.join(name for name in FORMATS if name != 'auto')}, ecs-json). "
            "Nothing read from it.[/red]",
            soft_wrap=True,
        )
        return None
    console.print(f"{path}: read as {sniffed.format} ({sniffed.why})", soft_wrap=True)
    return sniffed.format


def _ingest_file(path: Path, *, reader: Reader, writer: _BatchWriter, progress: Progress) -> bool:
    """Read one file through `reader`; False (with a message) when it cannot be opened."""
    try:
        handle = path.open("rb")
        size = path.stat().st_size
    except OSError as exc:
        console.print(f"[red]{path}: cannot read: {exc.strerror or exc}[/red]")
        return False
    source = str(path)
    with handle:
        task = progress.add_task(path.name, total=size or None)
        for count, record in enumerate(reader(handle), start=1):
            writer.add(record, source=source)
            if count % 512 == 0:  # the bar is per byte; updating it per line costs more
                progress.update(task, completed=record.offset)
        writer.flush(source=source)
        progress.update(task, completed=size)
    return True


# -- search ------------------------------------------------------------------------------------


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
    from core.store.sqlite_events import INDEXED_COLUMNS

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
    store = _open_store(settings)
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
