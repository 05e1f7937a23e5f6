"""`dijkwacht attack ...`: build and inspect the offline MITRE ATT&CK data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from dijkwacht.commands.common import console

app = typer.Typer(
    help="MITRE ATT&CK reference data, built from installed packages (no download).",
    no_args_is_help=True,
)

AttackDirOption = Annotated[
    Path | None,
    typer.Option(
        "--attack-dir",
        help="Folder of the built ATT&CK files (default: <environment>/share/dijkwacht/attack).",
        file_okay=False,
    ),
]


@app.command("build")
def build(
    attack_dir: AttackDirOption = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even when up to date.")] = False,
) -> None:
    """Build or refresh the ATT&CK files for pyattck and pySigma; print what they hold."""
    from detection.service import (
        AttackDataError,
        build_attack_bundle,
        default_attack_dir,
        read_manifest,
    )

    directory = attack_dir if attack_dir is not None else default_attack_dir()
    try:
        build_attack_bundle(output_dir=directory, force=force)
        manifest = read_manifest(output_dir=directory)
    except (AttackDataError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    counts = manifest["counts"]
    typer.echo(f"ATT&CK {manifest['attack_version']} ({manifest['source']}) in {directory}")
    for kind in ("tactics", "techniques", "mitigations", "groups", "software"):
        typer.echo(f"  {kind:<14} {counts[kind]:>5}  ({counts[f'active_{kind}']} active)")
    typer.echo(f"  {'relationships':<14} {counts['relationships']:>5}")


@app.command("show")
def show(
    technique_id: Annotated[str, typer.Argument(help="Technique id, e.g. T1059.001.")],
    attack_dir: AttackDirOption = None,
) -> None:
    """Show a technique: name, tactics and mitigations."""
    from core.errors import NotFoundError
    from detection.service import AttackDataError, get_attack_catalog

    try:
        catalog = get_attack_catalog(attack_dir=attack_dir)
        technique = catalog.technique(technique_id)
        mitigations = catalog.mitigations(technique.id)
    except (AttackDataError, NotFoundError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(code=1) from None
    typer.echo(f"{technique.id}  {technique.name}")
    typer.echo(f"  {technique.url}")
    if not technique.active:
        state = "revoked" if technique.revoked else "deprecated"
        successor = f", replaced by {technique.replaced_by}" if technique.replaced_by else ""
        typer.echo(f"  ({state} in ATT&CK {catalog.version}{successor})")
    tactics = ", ".join(f"{name} ({shortname})" for shortname, name in technique.tactics)
    typer.echo(f"Tactics: {tactics or '-'}")
    typer.echo("Mitigations:" if mitigations else "Mitigations: -")
    for mitigation in mitigations:
        typer.echo(f"  {mitigation.id}  {mitigation.name}")
