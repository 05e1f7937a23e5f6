"""`dijkwacht detect`: batch Sigma matching over files, like Zircolite/Hayabusa/Chainsaw.

The output of `detect` is a stable interface others script against: one JSON object per
(rule, event) match, in input order. For JSON lines ``{"rule_id", "title", "line"}`` with the
1-based line number (plus ``"file"`` when several files are read); for EVTX records
``{"rule_id", "title", "level", "file", "record_id", "timestamp"}`` with ``record_id`` the
record's EventRecordID. Problems and the summary go to stderr.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any

import orjson
import typer

from dijkwacht.commands.common import console, json_objects

if TYPE_CHECKING:
    from detection.service import RuleSet

# Without --pipeline, rules see the events' own field names (right for events already in the
# rules' vocabulary, and it never drops a rule); Windows events (EVTX, Winlogbeat/Elastic Agent
# JSON with `winlog.*`) go through the Windows mapping (detection.winlog) instead.
DEFAULT_STACK = "none"
# Events parsed, then matched, per batch. 128 parsed events (about 0.35 MB of objects) are still
# in the core's L2 cache (2 MB here) when they are matched; at 1,024 (about 2.7 MB) they were
# not, and the whole pipeline ran about 20 % slower (bench/detect.py, ratio 0.19-0.21 against
# 0.24-0.26; 256 and 64 fell in between). The per-batch prefilter memo loses little: repeats of
# the same values are mostly a few events apart (6 % more scans than at 1,024).
BATCH_SIZE = 128


def detect(
    rules_dir: Annotated[Path, typer.Argument(help="Folder of Sigma rules (*.yml, *.yaml).")],
    inputs: Annotated[
        list[Path],
        typer.Argument(
            help="Events: JSON-lines files (one object per line), EVTX files, or folders "
            "(searched recursively for *.evtx, *.jsonl, *.json)."
        ),
    ],
    pipeline: Annotated[
        list[str] | None,
        typer.Option(
            "--pipeline",
            "-p",
            help="Pipeline stack, names joined by '+' (e.g. sysmon+windows-logsources); "
            "repeat for several stacks: a rule matches if it matches under any. "
            f"Default: {DEFAULT_STACK} (field names as in the events), and Windows events "
            "(EVTX, winlog.*) under the SigmaHQ Windows mapping.",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write matches here (default stdout).")
    ] = None,
    list_skipped: Annotated[
        bool,
        typer.Option("--list-skipped", help="Print every rule that did not run, with why."),
    ] = False,
    rule_cache: Annotated[
        Path | None,
        typer.Option(
            "--rule-cache",
            help="Keep compiled rules in this folder (created private, mode 0700): the next "
            "run with unchanged rule files loads them instead of compiling them.",
        ),
    ] = None,
) -> None:
    """Run every rule under RULES_DIR over the INPUTS and print one JSON line per match."""
    from core.errors import ValidationError
    from core.gc_tuning import prepare_gc
    from detection.service import CompileCache, load_rules

    if not rules_dir.exists():
        console.print(f"[red]rules folder not found: {rules_dir}[/red]")
        raise typer.Exit(code=2)
    for given in inputs:
        if not given.exists():
            console.print(f"[red]events file not found: {given}[/red]")
            raise typer.Exit(code=2)
    files = input_files(inputs)
    windows = pipeline is None and needs_windows_mapping(files)
    stacks = pipeline or [DEFAULT_STACK]
    started = time.perf_counter()
    try:
        # Only EVTX files: every event takes the Windows mapping; `none` is not compiled.
        only_evtx = all(item.evtx for item in files)
        ruleset = load_rules(
            paths=[rules_dir],
            stacks=stacks,
            windows=windows,
            plain=not (windows and only_evtx),
            cache=CompileCache(rule_cache) if rule_cache is not None else None,
        )
    except ValidationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    for problem in ruleset.problems:
        typer.echo(f"rule skipped: {problem}", err=True)  # one unwrapped line each
    if not ruleset.runnable:
        console.print("[red]no rule can run: nothing to do[/red]")
        raise typer.Exit(code=1)
    loaded = time.perf_counter()
    # The compiled rules live as long as the command: out of every collection from here on.
    prepare_gc()
    tally = Tally()
    if output is None:
        counts = _run(ruleset, files, sys.stdout.buffer, tally, merged=pipeline is not None)
        sys.stdout.flush()
    else:
        with output.open("wb") as sink:
            counts = _run(ruleset, files, sink, tally, merged=pipeline is not None)
    _summary(
        ruleset,
        tally,
        counts,
        load_s=loaded - started,
        match_s=time.perf_counter() - loaded,
        windows=windows,
        list_skipped=list_skipped,
    )


def _run(
    ruleset: RuleSet, files: list[InputFile], sink: IO[bytes], tally: Tally, *, merged: bool
) -> Counter[str]:
    """Stream every file in batches; returns matches per rule id."""
    from detection.service import is_windows_event

    rules = ruleset.rules
    counts: Counter[str] = Counter()
    batch: list[dict[str, Any]] = []
    places: list[Where] = []
    several = len(files) > 1

    def flush() -> None:
        out = []
        for index, number in ruleset.match_pairs(batch):
            info = rules[number]
            counts[info.rule_id] += 1
            place = places[index]
            if "record_id" in place:
                record = {"rule_id": info.rule_id, "title": info.title, "level": info.level}
                record.update(place)
            else:
                record = {"rule_id": info.rule_id, "title": info.title, **place}
            out.append(orjson.dumps(record) + b"\n")
        sink.write(b"".join(out))
        batch.clear()
        places.clear()

    with _progress(len(files)) as advance:
        for item in files:
            for event, place in events_of(item, tally, merged=merged, several=several):
                if ruleset.windows is not None and is_windows_event(event):
                    tally.windows_events += 1
                batch.append(event)
                places.append(place)
                if len(batch) >= BATCH_SIZE:
                    flush()
            advance()
        flush()
    return counts


class _progress:
    """A progress bar over files on a terminal (stderr); nothing when stderr is not one."""

    def __init__(self, total: int) -> None:
        self._total = total
        self._bar: Any = None

    def __enter__(self) -> Any:
        if not sys.stderr.isatty() or self._total < 2:
            return lambda: None
        from rich.progress import Progress

        self._bar = Progress(console=console, transient=True)
        self._bar.start()
        task = self._bar.add_task("files", total=self._total)
        return lambda: self._bar.advance(task)

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.stop()


def _summary(
    ruleset: RuleSet,
    tally: Tally,
    counts: Counter[str],
    *,
    load_s: float,
    match_s: float,
    windows: bool,
    list_skipped: bool,
) -> None:
    """Files, events, rules loaded and skipped (per reason), matches and speed, on stderr."""
    from detection.service import not_run

    plain = tally.events > tally.windows_events or not windows
    skipped = not_run(ruleset, windows=windows and tally.windows_events > 0, plain=plain)
    echo = _err
    json_files = tally.files - tally.evtx_files
    echo(
        f"files: {tally.files} ({tally.evtx_files} EVTX, {json_files} JSON lines); "
        f"events: {tally.events}"
        + (f"; damaged EVTX records/chunks dead-lettered: {tally.damaged}" if tally.damaged else "")
    )
    mapping = " (Windows events under the SigmaHQ Windows mapping)" if windows else ""
    echo(
        f"rules: {len(ruleset.rules)} loaded in {load_s:.1f} s{mapping}, "
        f"{len(ruleset.problems)} file problem(s), {len(skipped)} skipped"
    )
    by_reason = Counter(_reason(why) for why in skipped.values())
    for reason, count in by_reason.most_common():
        echo(f"  skipped {count:>5}: {reason}")
    if skipped and not list_skipped:
        echo("  (--list-skipped prints each skipped rule with its reason)")
    if list_skipped:
        titles = {info.rule_id: (info.title, info.path) for info in ruleset.rules}
        for rule_id, why in sorted(skipped.items()):
            title, path = titles.get(rule_id, ("(correlation rule)", None))
            echo(f"skipped {rule_id} {title!r} ({path or '-'}): {'; '.join(why)}")
    rate = tally.events / match_s if match_s > 0 else 0.0
    echo(
        f"matches: {sum(counts.values())} from {len(counts)} rule(s); "
        f"{tally.events} events in {match_s:.1f} s ({rate:,.0f} events/s)"
    )


def _reason(why: list[str]) -> str:
    """One line per distinct set of reasons; long pySigma messages cut to their gist."""
    text = "; ".join(
        sorted({reason.split(":")[0] if len(reason) > 90 else reason for reason in why})
    )
    return text


def _err(text: str) -> None:
    typer.echo(text, err=True)


# -- inputs: EVTX and JSON-lines files, found in folders, read as events -------------------------
# EVTX is read through ``collectors.evtx`` (the same reader as ingest, damaged records counted
# and named); the events go to ``detection.service``.

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
