"""Command groups of the CLI; `register_commands` wires them onto the root app."""

from __future__ import annotations

import typer


def register_commands(app: typer.Typer) -> None:
    """Attach every command module; imports stay here so `dijkwacht --help` is the only cost."""
    from dijkwacht.commands import up

    app.command("up")(up.up)
    app.command("serve")(up.serve)

    from dijkwacht.commands import admin, audit, db, tokens

    app.add_typer(admin.app, name="admin")
    app.add_typer(tokens.app, name="tokens")
    app.add_typer(audit.app, name="audit")
    app.add_typer(db.app, name="db")

    from dijkwacht.commands import events

    app.command("ingest")(events.ingest)
    app.command("search")(events.search)

    from dijkwacht.commands import detection

    app.command("detect")(detection.detect)
    from dijkwacht.commands import rules

    rules.register(detection.app)
    app.add_typer(detection.app, name="rules")

    from dijkwacht.commands import attack

    app.add_typer(attack.app, name="attack")

    from dijkwacht.commands import collect

    app.command("collect")(collect.collect)
    app.add_typer(collect.collectors_app, name="collectors")
    app.add_typer(collect.deadletters_app, name="deadletters")

    from dijkwacht.commands import demo

    app.add_typer(demo.app, name="demo")

    from dijkwacht.commands import breach

    app.add_typer(breach.app, name="breach")

    from dijkwacht.commands import playbooks

    app.add_typer(playbooks.incidents_app, name="incidents")
    app.add_typer(playbooks.playbooks_app, name="playbooks")

    from dijkwacht.commands import exceptions

    app.add_typer(exceptions.app, name="exceptions")

    from dijkwacht.commands import awareness

    app.add_typer(awareness.app, name="awareness")

    from dijkwacht.commands import drills

    app.add_typer(drills.app, name="drills")

    from dijkwacht.commands import content

    app.add_typer(content.app, name="content")

    from dijkwacht.commands import advisories, inventory

    app.add_typer(inventory.app, name="inventory")
    app.add_typer(advisories.app, name="advisories")
    from dijkwacht.commands import intel

    app.add_typer(intel.app, name="intel")
    from dijkwacht.commands import compliance

    app.add_typer(compliance.app, name="compliance")
