"""`dijkwacht breach ...`: the breach register and the whole breach journey from the shell.

One module per part of the journey; this module assembles the group in the order `--help`
lists it: the register's read side, then the journey from suspicion to closing, then the
processing register and residents' requests as sub-groups.
"""

from __future__ import annotations

import typer

from dijkwacht.commands.breach import (
    assessment,
    letters,
    processing_register,
    register,
    reports,
    requests,
)

app = typer.Typer(help="Personal-data breaches: register, deadlines, export.", no_args_is_help=True)
app.command("list")(register.list_command)
app.command("show")(register.show_command)
app.command("clocks")(register.clocks_command)
app.command("export")(register.export_command)
app.command("open")(assessment.open_command)
app.command("facts")(assessment.facts_command)
app.command("assess")(assessment.assess_command)
app.command("decide")(assessment.decide_command)
app.command("draft")(reports.draft_command)
app.command("answer")(reports.answer_command)
app.command("finalise")(reports.finalise_command)
app.command("follow-up")(reports.followup_command)
app.command("report")(reports.report_command)
app.command("letters")(letters.letters_command)
app.command("identify")(letters.identify_command)
app.command("letters-approve")(letters.letters_approve_command)
app.command("letters-send")(letters.letters_send_command)
app.command("close")(assessment.close_command)
app.add_typer(processing_register.app, name="processing-register")
app.add_typer(requests.app, name="requests")
