"""`dijkwacht deadletters list | replay`: input that could not be parsed, read and re-parsed."""

from __future__ import annotations

from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer

from core.config import Settings
from dijkwacht.commands.common import console, settings_or_exit

app = typer.Typer(help="Input that could not be parsed.", no_args_is_help=True)

SourceOption = Annotated[str | None, typer.Option("--source", help="Only this source.")]


@app.command("list")
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


@app.command("replay")
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
