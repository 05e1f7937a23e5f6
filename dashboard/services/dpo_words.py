"""Human words for the DPO pages: field labels, history as sentences, time left on a clock.

The breach services speak in field names (`subjects_min`) and action names (`updated`); the DPO
reads labels and sentences in Amsterdam time instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from core.config import Settings
from playbooks.breach.models import BreachChange
from playbooks.breach.service import local_time

AMBER = timedelta(hours=12)
_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")

# Field of the register -> its label. Labels, states, decisions, bands and origins are English
# msgids of the dashboard catalogue: pages show them through `| translate` (nl in locale/nl).
LABELS: dict[str, str] = {
    "title": "Title",
    "facts": "What happened",
    "cause": "Cause",
    "effects": "Effects",
    "remedial_actions": "Remedial actions",
    "systems": "Systems",
    "breach_types": "Type of breach",
    "data_categories": "Types of data",
    "special_categories": "Special categories",
    "subject_categories": "Groups of people",
    "subjects_min": "Number of people affected, at least",
    "subjects_max": "Number of people affected, at most",
    "decision": "Decision",
    "decision_reason": "Reason for the decision",
    "nis2_applies": "NIS2/Cbw applies",
    "origin": "Origin",
    "origin_ref": "Linked to",
    "state": "State",
    "assessment": "Risk assessment",
    "letters": "Letters",
    "delay_reason": "Reason for filing late",
}

STATES: dict[str, str] = {
    "registered": "Registered, to be assessed",
    "assessing": "Being assessed",
    "no_notification": "Not notified (recorded)",
    "notification_due": "AP notification due",
    "notified": "Notified to the AP",
    "not_a_breach": "Not a breach",
    "closed": "Closed",
}

DECISIONS: dict[str, str] = {
    "no_notification": "Do not notify (register only)",
    "notify_ap": "Notify the AP",
    "notify_ap_and_subjects": "Notify the AP and inform the people affected",
}

BANDS = {"low": "low", "medium": "medium", "high": "high",
         "very_high": "very high"}  # fmt: skip

ORIGINS = {"manual": "by hand", "incident": "incident", "alert": "alert"}

_ACTIONS = {
    "opened": "registered the breach",
    "state": "set the state to",
    "assessed": "recorded the risk assessment",
    "handoff_accepted": "took the incident hand-off",
    "letters_drafted": "drafted letters",
    "letters_approved": "approved the letters",
    "letters_released": "released the letters",
    "letters_delivered": "delivered the letters",
    "report_finalised": "finalised the report",
    "report_drafted": "drafted a report",
}


def show_time(moment: datetime | None, settings: Settings) -> str:
    """`17-03-2026 14:02` in Amsterdam time (the configured zone)."""
    if moment is None:
        return "–"
    return local_time(moment, settings).strftime("%d-%m-%Y %H:%M")


def show_value(value: Any, settings: Settings | None = None) -> str:
    """A stored value in words: lists joined, times in Amsterdam time; booleans, states and
    decisions as msgids of the dashboard catalogue (`sentence` translates them)."""
    if value is None or value == "" or value == []:
        return "–"
    if settings is not None and isinstance(value, str) and _ISO.match(value):
        try:
            return show_time(datetime.fromisoformat(value.replace("Z", "+00:00")), settings)
        except ValueError:
            return value
    if isinstance(value, bool):
        return "yes" if value else "no"
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


def _same(text: str) -> str:
    return text


def sentence(
    change: BreachChange, settings: Settings, translate: Callable[[str], str] = _same
) -> str:
    """One history row as a sentence: '17-03-2026 14:02 — fg changed … from 120 to 140'.

    `translate` is the page's catalogue (the `translate` filter of the dashboard's Jinja
    environment); without it the sentence stays in the English of the msgids.
    """
    t = translate
    when = show_time(change.at, settings)
    who = change.actor
    if change.action in ("updated", "report_edited", "decided"):
        what = f"{t('changed')} {t(label(change.field))}"
        if change.before not in (None, "", []):
            before = t(show_value(change.before, settings))
            after = t(show_value(change.after, settings))
            what += f": {before} → {after}"
        else:
            what += f": {t(show_value(change.after, settings))}"
    elif change.action == "state":
        what = f"{t(_ACTIONS['state'])} “{t(show_value(change.after))}”"
    elif change.action == "assessed" and isinstance(change.after, dict):
        outcome = change.after.get("outcome", {})
        band = t(BANDS.get(str(outcome.get("band")), str(outcome.get("band"))))
        what = f"{t(_ACTIONS['assessed'])} ({band}, score {outcome.get('score')})"
    else:
        what = t(_ACTIONS.get(change.action, change.action.replace("_", " ")))
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
    # English here; pages show it through the catalogue (`| translate`, dashboard/i18n.py).
    if delta < timedelta(0):
        return TimeLeft(f"overdue by {hours} h {mins:02d} min", "red")
    tone = "amber" if delta <= AMBER else "ok"
    return TimeLeft(f"{hours} h {mins:02d} min left", tone)


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
