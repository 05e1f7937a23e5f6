"""Dutch and English labels of the resident access report (page and PDF)."""

from __future__ import annotations

from typing import Literal

Lang = Literal["nl", "en"]

LABELS: dict[str, dict[str, str]] = {
    "nl": {
        "title": "Overzicht van inzage in uw gegevens",
        "subject": "Inwoner (pseudoniem)",
        "generated": "Opgesteld op",
        "when": "Wanneer",
        "source": "Systeem",
        "action": "Handeling",
        "department": "Afdeling",
        "role": "Rol",
        "purpose": "Doel",
        "record": "Soort gegeven",
        "case": "Zaak",
        "employee": "Medewerker",
        "partner": "Op verzoek van (ketenpartner)",
        "none": "Er zijn geen raadplegingen gevonden.",
        "count": "Aantal raadplegingen",
        "intro": "Dit overzicht laat zien wanneer uw gegevens zijn geraadpleegd, door welke "
        "afdeling en rol, en met welk doel (art. 15 AVG; HvJ EU C-579/21).",
        "names_note": "Namen van medewerkers zijn opgenomen op besluit van de functionaris "
        "gegevensbescherming.",
    },
    "en": {
        "title": "Overview of access to your data",
        "subject": "Resident (pseudonym)",
        "generated": "Generated on",
        "when": "When",
        "source": "System",
        "action": "Action",
        "department": "Department",
        "role": "Role",
        "purpose": "Purpose",
        "record": "Record type",
        "case": "Case",
        "employee": "Employee",
        "partner": "At the request of (chain partner)",
        "none": "No consultations were found.",
        "count": "Number of consultations",
        "intro": "This overview shows when your data were consulted, by which department and "
        "role, and for which purpose (Art. 15 GDPR; CJEU C-579/21).",
        "names_note": "Employee names are included by decision of the data protection officer.",
    },
}

# What a resident reads instead of internal action names (`data.read`, `view`, ...).
ACTIONS: dict[str, dict[str, str]] = {
    "nl": {
        "data.read": "bekeken in het beveiligingssysteem",
        "view": "bekeken",
        "search": "opgezocht",
        "edit": "gewijzigd",
        "export": "geëxporteerd",
        "print": "afgedrukt",
        "reidentification.verified": "identiteit gecontroleerd",
    },
    "en": {
        "data.read": "viewed in the security system",
        "view": "viewed",
        "search": "looked up",
        "edit": "changed",
        "export": "exported",
        "print": "printed",
        "reidentification.verified": "identity checked",
    },
}

# Roles and record types as a resident reads them, instead of codes (`incident_manager`,
# `app_audit`, `medewerker-burgerzaken`). Codes not listed read as words (`_`/`-` as spaces).
ROLE_NAMES: dict[str, dict[str, str]] = {
    "nl": {
        "analyst": "beveiligingsanalist",
        "incident_manager": "incidentmanager",
        "crisis_team": "lid van het crisisteam",
        "dpo": "functionaris gegevensbescherming",
        "exercise_controller": "leider van een oefening",
        "admin": "beheerder van het beveiligingssysteem",
        "medewerker-burgerzaken": "medewerker burgerzaken",
        "medewerker-vergunningen": "medewerker vergunningen",
        "consulent-wmo": "consulent Wmo (zorg en ondersteuning)",
        "informatiebeheer": "medewerker informatiebeheer",
        "ict-beheer": "medewerker ICT-beheer",
    },
    "en": {
        "analyst": "security analyst",
        "incident_manager": "incident manager",
        "crisis_team": "crisis team member",
        "dpo": "data protection officer",
        "exercise_controller": "exercise controller",
        "admin": "security system administrator",
        "medewerker-burgerzaken": "civil affairs officer",
        "medewerker-vergunningen": "permits officer",
        "consulent-wmo": "social support (Wmo) adviser",
        "informatiebeheer": "records management officer",
        "ict-beheer": "IT operations officer",
    },
}
RECORD_NAMES: dict[str, dict[str, str]] = {
    "nl": {
        "alert": "beveiligingsmelding",
        "alert_list": "lijst van beveiligingsmeldingen",
        "app_audit": "logboek van een applicatie",
        "breach": "datalekdossier",
        "breach_letters": "brief over een datalek",
        "breach_register": "datalekregister",
        "breach_report": "melding van een datalek",
        "event_search": "zoekopdracht in logboeken",
        "incident": "beveiligingsincident",
        "resident": "gegevens van de inwoner",
        "resident_requests": "register van verzoeken van inwoners",
        "reidentification_request": "controle van identiteit",
        "persoonslijst": "persoonslijst (BRP)",
        "reisdocument": "reisdocument",
        "verhuizing": "verhuizing",
        "zaak": "zaak",
        "zorgdossier": "zorgdossier",
        "vergunning": "vergunning",
        "document": "document",
    },
    "en": {
        "alert": "security alert",
        "alert_list": "list of security alerts",
        "app_audit": "application log",
        "breach": "data breach file",
        "breach_letters": "letter about a data breach",
        "breach_register": "data breach register",
        "breach_report": "data breach notification",
        "event_search": "search in the logs",
        "incident": "security incident",
        "resident": "resident's data",
        "resident_requests": "register of residents' requests",
        "reidentification_request": "identity check",
        "persoonslijst": "personal record (population register)",
        "reisdocument": "travel document",
        "verhuizing": "change of address",
        "zaak": "case file",
        "zorgdossier": "care file",
        "vergunning": "permit",
        "document": "document",
    },
}


def _words(code: str) -> str:
    return code.replace("_", " ").replace("-", " ").strip()


def role_name(value: str | None, lang: str) -> str:
    """A role (or a comma-separated list of roles) in the resident's language."""
    if not value:
        return "–"
    names = ROLE_NAMES.get(lang, ROLE_NAMES["nl"])
    parts = [p.strip() for p in value.split(",") if p.strip()]
    return ", ".join(names.get(p, _words(p)) for p in parts) or "–"


def record_name(value: str | None, lang: str) -> str:
    """A record type in the resident's language."""
    if not value:
        return "–"
    return RECORD_NAMES.get(lang, RECORD_NAMES["nl"]).get(value, _words(value))
