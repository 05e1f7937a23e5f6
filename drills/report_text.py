"""Every word of the after-action report in Dutch and in English: two full versions.

The report template takes its headings, sentences and table labels from `TEXT[lang]` only, so
the English report holds no Dutch sentence and the Dutch report no English one (the scenario's
own texts and what participants typed stay as they were written). The banner keeps the
platform's fixed exercise mark "OEFENING / EXERCISE" in both, as every exercise artefact does.
A test reads both versions for a set of known phrases of the other language.
"""

from __future__ import annotations

import re

LANGUAGES = ("nl", "en")

TEXT: dict[str, dict[str, str]] = {
    "nl": {
        "banner": "OEFENING / EXERCISE — geen echt incident",
        "banner_end": "OEFENING / EXERCISE",
        "report": "Evaluatieverslag",
        "public_summary": "publieke samenvatting",
        "scenario": "Scenario",
        "mode": "Vorm",
        "exercise": "Oefening",
        "started": "gestart",
        "stopped": "gestopt",
        "amsterdam": "Nederlandse tijd",
        "period": "Periode",
        "criteria_results": "Criteria en resultaten",
        "frozen": "De criteria zijn vóór de start vastgelegd op",
        "unchanged": "ongewijzigd (de controlecode klopt)",
        "changed": "GEWIJZIGD NA DE START: de controlecode klopt niet",
        "criterion": "Criterium",
        "limit": "Grens (minuten)",
        "result": "Resultaat (minuten)",
        "verdict": "Oordeel",
        "not_measured": "niet gemeten",
        "passed": "gehaald",
        "not_passed": "niet gehaald",
        "not_evaluated": "niet beoordeeld",
        "times": "Tijden in minuten na de start",
        "detect": "Ontdekken",
        "escalate": "Opschalen",
        "decide": "Besluiten",
        "communicate": "Communiceren",
        "expectations": "Verwachtingen",
        "role": "Rol",
        "expectation": "Verwachting",
        "status": "Stand",
        "evidence": "Bewijs of notitie",
        "within": "binnen",
        "minutes": "min",
        "not_seen": "niet gezien binnen {n} minuten",
        "timeline": "Tijdlijn",
        "time": "Tijd (Nederlandse tijd)",
        "what": "Wat",
        "inject_to": "bericht {id} ({kind}) naar {roles}",
        "expectation_line": "verwachting {id}: {status} ({how})",
        "decisions": "Besluiten en acties",
        "none": "Geen.",
        "hotwash": "Eerste nabespreking",
        "no_notes": "Geen notities.",
        "lessons": "Lessen en verbeteracties",
        "lesson": "Les",
        "action": "Actie",
        "owner": "Eigenaar",
        "due": "Klaar op",
        "none_yet": "Nog geen.",
        "other_language": "English version",
        "m_met": "gehaald",
        "m_missed": "niet gehaald",
        "m_unscored": "niet beoordeeld",
        "m_pending": "open",
        "k_decision": "besluit",
        "k_action": "actie",
        "a_open": "open",
        "a_done": "klaar",
        "tabletop": "tafeloefening",
        "technical": "technische oefening",
        "message": "bericht",
        "alert": "melding",
        "press": "pers",
        "social": "sociale media",
        "phone": "telefoon",
        "email": "e-mail",
    },
    "en": {
        "banner": "OEFENING / EXERCISE — not a real incident",
        "banner_end": "OEFENING / EXERCISE",
        "report": "After-action report",
        "public_summary": "public summary",
        "scenario": "Scenario",
        "mode": "Mode",
        "exercise": "Exercise",
        "started": "started",
        "stopped": "stopped",
        "amsterdam": "Amsterdam time",
        "period": "Period",
        "criteria_results": "Criteria and results",
        "frozen": "The criteria were frozen before the start on",
        "unchanged": "unchanged (the hash is verified)",
        "changed": "CHANGED AFTER THE START: the hash does not match",
        "criterion": "Criterion",
        "limit": "Limit (minutes)",
        "result": "Result (minutes)",
        "verdict": "Verdict",
        "not_measured": "not measured",
        "passed": "passed",
        "not_passed": "not passed",
        "not_evaluated": "not evaluated",
        "times": "Times in minutes after the start",
        "detect": "Detect",
        "escalate": "Escalate",
        "decide": "Decide",
        "communicate": "Communicate",
        "expectations": "Expectations",
        "role": "Role",
        "expectation": "Expectation",
        "status": "Status",
        "evidence": "Evidence or note",
        "within": "within",
        "minutes": "min",
        "not_seen": "not seen within {n} minutes",
        "timeline": "Timeline",
        "time": "Time (Amsterdam)",
        "what": "What",
        "inject_to": "inject {id} ({kind}) to {roles}",
        "expectation_line": "expectation {id}: {status} ({how})",
        "decisions": "Decisions and actions",
        "none": "None.",
        "hotwash": "Hot wash",
        "no_notes": "No notes.",
        "lessons": "Lessons and follow-up actions",
        "lesson": "Lesson",
        "action": "Action",
        "owner": "Owner",
        "due": "Due",
        "none_yet": "None yet.",
        "other_language": "Nederlandse versie",
        "m_met": "met",
        "m_missed": "missed",
        "m_unscored": "not evaluated",
        "m_pending": "pending",
        "k_decision": "decision",
        "k_action": "action",
        "a_open": "open",
        "a_done": "done",
        "tabletop": "tabletop exercise",
        "technical": "technical drill",
        "message": "message",
        "alert": "alert",
        "press": "press",
        "social": "social media",
        "phone": "phone",
        "email": "e-mail",
    },
}

# The scenario roles as each version names them.
ROLES: dict[str, dict[str, str]] = {
    "nl": {
        "burgemeester": "burgemeester",
        "gemeentesecretaris": "gemeentesecretaris",
        "ciso": "CISO",
        "fg": "FG",
        "communicatie": "communicatie",
        "it": "IT",
        "veiligheidsregio": "veiligheidsregio",
    },
    "en": {
        "burgemeester": "mayor",
        "gemeentesecretaris": "municipal secretary",
        "ciso": "CISO",
        "fg": "DPO",
        "communicatie": "communications",
        "it": "IT",
        "veiligheidsregio": "safety region",
    },
}

# Phrases that belong to one version only: the test checks the other version holds none.
DUTCH_ONLY = ("Evaluatieverslag", "Criteria en resultaten", "Verwachtingen", "Tijdlijn",
              "Besluiten en acties", "Lessen en verbeteracties", "gehaald", "Nederlandse tijd",
              "geen echt incident", "Eigenaar", "Klaar op")  # fmt: skip
ENGLISH_ONLY = ("After-action report", "Criteria and results", "Expectations", "Timeline",
                "Decisions and actions", "Lessons and follow-up actions", "passed",
                "Amsterdam time", "not a real incident", "Owner", "Due")  # fmt: skip


def role(code: str | None, lang: str) -> str:
    """A scenario role in the report's language (unknown codes as written)."""
    if not code:
        return ""
    return ROLES[lang].get(code, code)


# Notes the platform itself writes on expectations (stored in Dutch): each version reads them
# in its own language. Notes a controller typed are shown as typed.
_SYSTEM_NOTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (
        re.compile(r"^niet gezien binnen (?P<n>[\d.]+) minuten$"),
        {"nl": "niet gezien binnen {n} minuten", "en": "not seen within {n} minutes"},
    ),
    (
        re.compile(
            r"^niet beoordeeld: gestopt op minuut (?P<at>\d+), venster tot minuut (?P<n>[\d.]+)"
            r"( / not evaluated: .*)?$"
        ),
        {
            "nl": "niet beoordeeld: gestopt op minuut {at}, venster tot minuut {n}",
            "en": "not evaluated: stopped at minute {at}, window open until minute {n}",
        },
    ),
    (
        re.compile(r"^niet gehaald voor het einde van de oefening$"),
        {
            "nl": "niet gehaald voor het einde van de oefening",
            "en": "not met before the end of the exercise",
        },
    ),
)


def note(text: str | None, lang: str) -> str:
    """An expectation's note in the report's language when the platform wrote it."""
    if not text:
        return ""
    for pattern, versions in _SYSTEM_NOTES:
        found = pattern.match(text)
        if found:
            return versions[lang].format(**found.groupdict())
    return text
