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
