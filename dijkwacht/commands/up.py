"""`dijkwacht up` and `dijkwacht serve`: run the embedded platform or just its web app."""

from __future__ import annotations

import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from core.clock import SystemClock
from core.config import Settings
from core.events import Event
from dijkwacht.commands.admin import first_account
from dijkwacht.commands.common import (
    console,
    detection_modes_or_exit,
    settings_or_exit,
    write_unit,
)


def data_dir_or_exit(settings: Settings) -> None:
    """Prepare `data_dir` (private, writable) or end the command with one clear message."""
    from rich.markup import escape

    from core.runtime import DataDirError, prepare_data_dir

    try:
        prepare_data_dir(settings)
    except DataDirError as exc:
        console.print(f"[red]{escape(str(exc))}[/red]", soft_wrap=True)
        raise typer.Exit(code=2) from None


def prepare(settings: Settings) -> None:
    """Check the data dir and bring every store to its current schema before children start."""
    from core.store.factory import open_event_store
    from core.store.relational import migrate

    data_dir_or_exit(settings)
    migrate(settings)
    open_event_store(settings).close()
    load_processing_register(settings)


def load_processing_register(settings: Settings) -> int | None:
    """Load `processing_register_file` so breaches start with their data categories.

    A wrong file stops start-up with `file:line: field: problem`: running on a stale or
    half-read register would give the DPO wrong estimates without anyone noticing.
    """
    if settings.processing_register_file is None:
        return None
    from rich.markup import escape

    from playbooks.breach.service import RegisterFileError
    from playbooks.breach.service import load_processing_register as load_register

    path = settings.processing_register_file
    try:
        with write_unit(settings, migrate_first=False) as db:
            return load_register(db=db, clock=SystemClock(), actor="system:up", path=path)
    except RegisterFileError as exc:
        console.print(f"[red]processing_register_file: {escape(exc.location)}[/red]")
        raise typer.Exit(code=1) from None


def load_demo(settings: Settings) -> int:
    """Run one generated day of the simulated municipality through collectors and detection.

    A marker file stops a second `up --demo` adding more. The world (raw logs, context tables,
    manifest) stays in `data_dir/demo-world` for `dijkwacht demo evaluate`.
    """
    from datetime import timedelta

    from demo_world.service import generate_world, read_world

    marker = settings.resolved_data_dir / "run" / "demo-loaded"
    if marker.exists():
        return 0
    world = settings.resolved_data_dir / "demo-world"
    now = SystemClock().now()
    generate_world(
        output=world, days=1, seed=42, start=(now - timedelta(days=1)).date(), residents=400
    )
    ingested = read_world(
        directory=world, key=settings.secret("pseudonym_key").encode(), received_at=now
    )
    events = [event for _, event in ingested.events]
    for event in events:
        event["tags"] = [*event.get("tags", []), "demo"]
    _demo_ldv_register(settings, world)
    _through_pipeline(settings, events)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(f"{len(events)}\n", encoding="utf-8")
    return len(events)


def _demo_ldv_register(settings: Settings, world: Path) -> None:
    """The demo's processing register (with LDV URIs), chain partner and stream expectations,
    unless a register was loaded already (`processing_register_file` wins)."""
    from demo_world.service import LDV_EXPECTED_PER_HOUR, LDV_PARTNERS
    from ldv.service import PartnerInput, list_partners, save_partner, set_stream
    from playbooks.breach.service import activities_by_uri
    from playbooks.breach.service import load_processing_register as load_register

    clock = SystemClock()
    with write_unit(settings, migrate_first=False) as db:
        if not activities_by_uri(db=db):
            load_register(
                db=db, clock=clock, actor="system:demo", path=world / "processing_register.yaml"
            )
        if not list_partners(db=db):
            for name, entity, contact, agreed in LDV_PARTNERS:
                spec = PartnerInput(name, entity, contact, list(agreed))
                save_partner(db=db, clock=clock, actor="system:demo", spec=spec)
        for system, per_hour in LDV_EXPECTED_PER_HOUR.items():
            set_stream(db=db, clock=clock, actor="system:demo", system=system, per_hour=per_hour)


def _through_pipeline(settings: Settings, events: list[Event]) -> None:
    """Spool, store and detect the demo like live input, so alerts are waiting in the queue."""
    from collectors.processes import SpoolConsumer
    from collectors.service import open_spool
    from core.store.factory import open_event_store
    from dijkwacht.detection_runtime import DetectionHook

    hook = DetectionHook(settings=settings)
    store = open_event_store(settings)
    try:
        with open_spool(settings) as spool:
            spool.append(events, source="demo")
            SpoolConsumer(
                spool=spool, store=store, batch_size=settings.ingest_batch_size, on_batch=hook
            ).drain()
    finally:
        store.close()
        hook.close()


def up(
    demo: Annotated[
        bool, typer.Option("--demo", help="Load a small demo dataset so the dashboard has data.")
    ] = False,
) -> None:
    """Start the API and dashboard, a Celery worker and beat, and the configured collectors.

    Everything runs on the embedded default (SQLite files in the data directory, no servers).
    Press Ctrl-C to stop every process cleanly.
    """
    from dijkwacht.supervisor import Supervisor, plan_children

    settings = settings_or_exit()
    detection_modes_or_exit(settings)
    console.print(f"data directory: {settings.resolved_data_dir}")
    with console.status("preparing databases"):
        prepare(settings)
    first_account(settings, interactive=sys.stdin.isatty() and sys.stdout.isatty())
    if demo:
        loaded = load_demo(settings)
        console.print(
            f"demo dataset: {loaded} events loaded" if loaded else "demo dataset already loaded"
        )
    supervisor = Supervisor(
        settings=settings, children=plan_children(settings), report=console.print
    )
    signal.signal(signal.SIGINT, supervisor.request_stop)
    signal.signal(signal.SIGTERM, supervisor.request_stop)
    console.print(
        f"[bold]Dijkwacht is starting[/bold]: dashboard at "
        f"http://{settings.http_host}:{settings.http_port}/ (Ctrl-C stops everything)"
    )
    raise typer.Exit(code=supervisor.run())


def serve() -> None:
    """Run only the API and dashboard in this process (what `up` starts as its `api` child)."""
    import uvicorn

    from dashboard.app import create_app

    settings = settings_or_exit()
    prepare(settings)
    uvicorn.run(create_app(settings), host=settings.http_host, port=settings.http_port)
