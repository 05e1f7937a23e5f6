"""Human words for the DPO pages: field labels, history as sentences, time left on a clock.

The breach services speak in field names (`subjects_min`) and action names (`updated`); the DPO
reads labels and sentences in Amsterdam time instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from playbooks.breach import clocks
from playbooks.breach.models import BreachChange

AMBER = timedelta(hours=12)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# Field of the register -> "Dutch / English" label.
LABELS: dict[str, str] = {
    "title": "Titel / title",
    "facts": "Wat er gebeurde / what happened",
    "cause": "Oorzaak / cause",
    "effects": "Gevolgen / effects",
    "remedial_actions": "Genomen maatregelen / remedial actions",
    "systems": "Systemen / systems",
    "breach_types": "Soort inbreuk / type of breach",
    "data_categories": "Soorten gegevens / types of data",
    "special_categories": "Bijzondere gegevens / special categories",
    "subject_categories": "Groepen betrokkenen / groups of people",
    "subjects_min": "Aantal betrokkenen, minimaal / number of people affected, at least",
    "subjects_max": "Aantal betrokkenen, maximaal / number of people affected, at most",
    "decision": "Besluit / decision",
    "decision_reason": "Reden van het besluit / reason for the decision",
    "nis2_applies": "Valt onder NIS2/Cbw / NIS2/Cbw applies",
    "origin": "Herkomst / origin",
    "origin_ref": "Gekoppeld aan / linked to",
    "state": "Status / state",
    "assessment": "Risicobeoordeling / risk assessment",
    "letters": "Brieven / letters",
    "delay_reason": "Reden van late melding / reason for filing late",
}

STATES: dict[str, str] = {
    "registered": "Geregistreerd, nog te beoordelen / registered, to be assessed",
    "assessing": "Wordt beoordeeld / being assessed",
    "no_notification": "Niet gemeld (vastgelegd) / not notified (recorded)",
    "notification_due": "Melding aan de AP nodig / AP notification due",
    "notified": "Gemeld aan de AP / notified to the AP",
    "not_a_breach": "Geen datalek / not a breach",
    "closed": "Afgesloten / closed",
}

DECISIONS: dict[str, str] = {
    "no_notification": "Niet melden (wel registreren) / do not notify (register only)",
    "notify_ap": "Melden aan de AP / notify the AP",
    "notify_ap_and_subjects": "Melden aan de AP en betrokkenen informeren / "
    "notify the AP and inform the people affected",
}

BANDS = {"low": "laag / low", "medium": "middel / medium", "high": "hoog / high",
         "very_high": "zeer hoog / very high"}  # fmt: skip

ORIGINS = {"manual": "met de hand / by hand", "incident": "incident", "alert": "melding / alert"}

_ACTIONS = {
    "opened": "registreerde het datalek / registered the breach",
    "state": "zette de status op / set the state to",
    "assessed": "legde de risicobeoordeling vast / recorded the risk assessment",
    "handoff_accepted": "nam de overdracht van het incident aan / took the incident hand-off",
    "letters_drafted": "maakte brieven aan / drafted letters",
    "letters_approved": "keurde de brieven goed / approved the letters",
    "letters_released": "gaf de brieven vrij / released the letters",
    "letters_delivered": "verstuurde de brieven / delivered the letters",
    "report_finalised": "stelde de melding definitief vast / finalised the report",
    "report_drafted": "maakte een concept-melding / drafted a report",
}


def show_time(moment: datetime | None, settings: Settings) -> str:
    """`17-03-2026 14:02` in Amsterdam time (the configured zone)."""
    if moment is None:
        return "–"
    return clocks.local(moment, settings).strftime("%d-%m-%Y %H:%M")


def show_value(value: Any, settings: Settings | None = None) -> str:
    """A stored value in words: lists joined, booleans as ja/nee, times in Amsterdam time."""
    if value is None or value == "" or value == []:
        return "–"
    if settings is not None and isinstance(value, str) and _ISO.match(value):
        try:
            return show_time(datetime.fromisoformat(value.replace("Z", "+00:00")), settings)
        except ValueError:
            return value
    if isinstance(value, bool):
        return "ja / yes" if value else "nee / no"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, str) and value in STATES:
        return STATES[value]
    if isinstance(value, str) and value in DECISIONS:
        return DECISIONS[value]
    if isinstance(value, dict):
        return "; ".join(f"{k}: {show_value(v)}" for k, v in value.items() if k != "outcome")
    return str(value)


def label(field: str | None) -> str:
    """The label of a register field, or of an AP/NIS2 report question (`kind:section.key`)."""
    if not field:
        return ""
    if ":" in field:
        return field.split(":", 1)[1].replace("_", " ").replace(".", " – ")
    return LABELS.get(field, field.replace("_", " "))


def sentence(change: BreachChange, settings: Settings) -> str:
    """One history row as a sentence: '17-03-2026 14:02 — fg changed … from 120 to 140'."""
    when = show_time(change.at, settings)
    who = change.actor
    if change.action in ("updated", "report_edited", "decided"):
        what = f"wijzigde / changed {label(change.field)}"
        if change.before not in (None, "", []):
            before, after = show_value(change.before, settings), show_value(change.after, settings)
            what += f": {before} → {after}"
        else:
            what += f": {show_value(change.after, settings)}"
    elif change.action == "state":
        what = f"{_ACTIONS['state']} “{show_value(change.after)}”"
    elif change.action == "assessed" and isinstance(change.after, dict):
        outcome = change.after.get("outcome", {})
        band = BANDS.get(str(outcome.get("band")), str(outcome.get("band")))
        what = f"{_ACTIONS['assessed']} ({band}, score {outcome.get('score')})"
    else:
        what = _ACTIONS.get(change.action, change.action.replace("_", " "))
    note = f" — {change.note}" if change.note and change.action != "opened" else ""
    return f"{when} — {who} {what}{note}"


@dataclass(frozen=True, slots=True)
class TimeLeft:
    """What a clock shows: words for the time left and its colour (ok, amber, red)."""

    text: str
    tone: str


def time_left(due: datetime, now: datetime) -> TimeLeft:
    """Hours and minutes left; amber within 12 hours, red once overdue."""
    delta = due - now
    minutes = int(abs(delta).total_seconds() // 60)
    hours, mins = divmod(minutes, 60)
    span = f"{hours} u {mins:02d} min"
    if delta < timedelta(0):
        return TimeLeft(f"{span} te laat / overdue by {hours} h {mins:02d} min", "red")
    tone = "amber" if delta <= AMBER else "ok"
    return TimeLeft(f"nog {span} / {hours} h {mins:02d} min left", tone)


__all__ = [
    "BANDS",
    "DECISIONS",
    "LABELS",
    "ORIGINS",
    "STATES",
    "TimeLeft",
    "label",
    "sentence",
    "show_time",
    "show_value",
    "time_left",
]
