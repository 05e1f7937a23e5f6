"""`dijkwacht ingest`: files into the event store.

Each file is read through a format reader (`readers`), chosen by `--format` or, with `auto`, by
the file's content (`formats`). Valid events are stored in batches, the rest goes to the
dead-letter table with file, line, byte offset and reason, so nothing read is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)

from core.errors import ConfigError
from core.events import Event
from core.store.base import DeadLetter, EventStore, InvalidEventError
from dijkwacht.commands.common import console, event_store_or_exit, settings_or_exit
from dijkwacht.commands.ingest.formats import FORMATS, format_choices, sniff_file
from dijkwacht.commands.ingest.readers import READERS, Reader, Record, reader_for


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
    store = event_store_or_exit(settings)
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
