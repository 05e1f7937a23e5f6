"""Command groups of the CLI; `register_commands` wires them onto the root app.

`dijkwacht X ...` lives in `commands/X.py` (or the package `commands/X/` when one module would
be too large); `common.py` and `units.py` hold what the commands share.
"""

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

    from dijkwacht.commands import search
    from dijkwacht.commands.ingest import command as ingest

    app.command("ingest")(ingest.ingest)
    app.command("search")(search.search)

    from dijkwacht.commands import detect

    app.command("detect")(detect.detect)
    from dijkwacht.commands import rules

    app.add_typer(rules.app, name="rules")

    from dijkwacht.commands import attack

    app.add_typer(attack.app, name="attack")

    from dijkwacht.commands import collect, collectors, deadletters

    app.command("collect")(collect.collect)
    app.add_typer(collectors.app, name="collectors")
    app.add_typer(deadletters.app, name="deadletters")

    from dijkwacht.commands import demo

    app.add_typer(demo.app, name="demo")

    from dijkwacht.commands import breach

    app.add_typer(breach.app, name="breach")

    from dijkwacht.commands import incidents, playbooks

    app.add_typer(incidents.app, name="incidents")
    app.add_typer(playbooks.app, name="playbooks")

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
