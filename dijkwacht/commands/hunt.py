"""Inputs of `dijkwacht detect`: EVTX and JSON-lines files, found in folders, read as events.

A composition root's helper: it reads EVTX through ``collectors.evtx`` (the same reader as
ingest, damaged records counted and named) and hands events to ``detection.service``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import typer

from dijkwacht.commands.common import json_objects

EVTX_SUFFIX = ".evtx"
JSON_SUFFIXES = (".jsonl", ".json")


@dataclass(frozen=True)
class InputFile:
    """One file to read; ``shown`` is its path as found under the INPUT given."""

    path: Path
    shown: str

    @property
    def evtx(self) -> bool:
        return self.path.suffix.lower() == EVTX_SUFFIX


@dataclass
class Tally:
    """What the summary reports about the input."""

    files: int = 0
    evtx_files: int = 0
    events: int = 0
    damaged: int = 0
    windows_events: int = 0
    notes: list[str] = field(default_factory=list)


def input_files(inputs: list[Path]) -> list[InputFile]:
    """Files named, and every *.evtx / *.jsonl / *.json under folders (sorted, recursive)."""
    found: list[InputFile] = []
    for given in inputs:
        if given.is_dir():
            for path in sorted(given.rglob("*")):
                if path.is_file() and path.suffix.lower() in (EVTX_SUFFIX, *JSON_SUFFIXES):
                    found.append(InputFile(path, str(path.relative_to(given))))
        else:
            found.append(InputFile(given, str(given)))
    return found


def needs_windows_mapping(files: list[InputFile]) -> bool:
    """Whether any input holds Windows events: an EVTX file, or JSON that starts with one."""
    from detection.service import is_windows_event

    if any(item.evtx for item in files):
        return True
    return any(is_windows_event(event) for item in files for _, event in _first_object(item.path))


def _first_object(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open("rb") as source:
        for number, line in enumerate(source, start=1):
            if line.strip():
                try:
                    event = orjson.loads(line)
                except orjson.JSONDecodeError:
                    return
                if isinstance(event, dict):
                    yield number, event
                return


Where = dict[str, Any]  # the input-side keys of a match line


def events_of(
    item: InputFile, tally: Tally, *, merged: bool, several: bool
) -> Iterator[tuple[dict[str, Any], Where]]:
    """(event, where) for every event of one file; damage is counted and named on stderr.

    EVTX records become the ECS events ingest stores (``collectors.evtx``). With ``merged``
    (an explicit ``--pipeline``) their raw Windows fields are added at the top level, so stacks
    for raw names (``sysmon``) and for ECS names (``ecs_windows``) both find their fields.
    """
    tally.files += 1
    if item.evtx:
        tally.evtx_files += 1
        yield from _evtx_events(item, tally, merged=merged)
        return
    for line, event in json_objects(item.path):
        tally.events += 1
        yield event, ({"file": item.shown, "line": line} if several else {"line": line})


def _evtx_events(
    item: InputFile, tally: Tally, *, merged: bool
) -> Iterator[tuple[dict[str, Any], Where]]:
    from collectors.processes import read_evtx_file
    from detection.service import windows_raw_fields

    for found in read_evtx_file(item.path, source=f"file:{item.shown}"):
        if not isinstance(found, dict):  # a DeadLetter: counted, named, the rest is read
            tally.damaged += 1
            typer.echo(f"{item.shown}: {found.reason}", err=True)
            continue
        tally.events += 1
        winlog = found.get("winlog") or {}
        record = str(winlog.get("record_id"))
        where: Where = {
            "file": item.shown,
            "record_id": int(record) if record.isdigit() else None,
            "timestamp": found.get("@timestamp"),
        }
        yield ({**windows_raw_fields(found), **found} if merged else found), where
