"""`dijkwacht detect` (batch Sigma matching over JSON lines) and `dijkwacht rules check`.

The output of `detect` is a stable interface others script against: one JSON object per
(rule, event) match, ``{"rule_id": ..., "title": ..., "line": N}`` with N the 1-based line
number of the event in the input file, in input order. Problems go to stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated

import orjson
import typer

from dijkwacht.commands.common import console, json_objects

if TYPE_CHECKING:
    from detection.service import RuleSet

# Without --pipeline, rules see the events' own field names: right for events already in the
# rules' vocabulary (Sysmon/Windows field names) and it never drops a rule.
DEFAULT_STACK = "none"
# Events parsed, then matched, per batch. 128 parsed events (about 0.35 MB of objects) are still
# in the core's L2 cache (2 MB here) when they are matched; at 1,024 (about 2.7 MB) they were
# not, and the whole pipeline ran about 20 % slower (bench/detect.py, ratio 0.19-0.21 against
# 0.24-0.26; 256 and 64 fell in between). The per-batch prefilter memo loses little: repeats of
# the same values are mostly a few events apart (6 % more scans than at 1,024).
BATCH_SIZE = 128

app = typer.Typer(help="Sigma rule tools.", no_args_is_help=True)


def detect(
    rules_dir: Annotated[Path, typer.Argument(help="Folder of Sigma rules (*.yml, *.yaml).")],
    events_file: Annotated[Path, typer.Argument(help="Events, one JSON object per line.")],
    pipeline: Annotated[
        list[str] | None,
        typer.Option(
            "--pipeline",
            "-p",
            help="Pipeline stack, names joined by '+' (e.g. sysmon+windows-logsources); "
            "repeat for several stacks: a rule matches if it matches under any. "
            f"Default: {DEFAULT_STACK} (field names as in the events).",
        ),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write matches here (default stdout).")
    ] = None,
) -> None:
    """Run every rule under RULES_DIR over EVENTS_FILE and print one JSON line per match."""
    from core.errors import ValidationError
    from core.gc_tuning import prepare_gc
    from detection.service import load_rules

    if not rules_dir.exists():
        console.print(f"[red]rules folder not found: {rules_dir}[/red]")
        raise typer.Exit(code=2)
    if not events_file.is_file():
        console.print(f"[red]events file not found: {events_file}[/red]")
        raise typer.Exit(code=2)
    stacks = pipeline or [DEFAULT_STACK]
    try:
        ruleset = load_rules(paths=[rules_dir], stacks=stacks)
    except ValidationError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=2) from None
    for problem in ruleset.problems:
        typer.echo(f"rule skipped: {problem}", err=True)  # one unwrapped line each
    if not ruleset.runnable:
        console.print("[red]no rule can run: nothing to do[/red]")
        raise typer.Exit(code=1)
    # The compiled rules live as long as the command: out of every collection from here on.
    prepare_gc()
    if output is None:
        _run(ruleset, events_file, sys.stdout.buffer)
        sys.stdout.flush()
    else:
        with output.open("wb") as sink:
            _run(ruleset, events_file, sink)


def _run(ruleset: RuleSet, events_file: Path, sink: IO[bytes]) -> None:
    """Stream the file in batches; invalid lines are reported and skipped."""
    rules = ruleset.rules
    batch: list[dict[str, object]] = []
    lines: list[int] = []

    def flush() -> None:
        out = []
        for index, number in ruleset.match_pairs(batch):
            info = rules[number]
            record = {"rule_id": info.rule_id, "title": info.title, "line": lines[index]}
            out.append(orjson.dumps(record) + b"\n")
        sink.write(b"".join(out))
        batch.clear()
        lines.clear()

    for line_number, event in json_objects(events_file):
        batch.append(event)
        lines.append(line_number)
        if len(batch) >= BATCH_SIZE:
            flush()
    flush()


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
