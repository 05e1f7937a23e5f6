"""Jinja2 environment and PDF output shared by letters, reports and the register export.

HTML templates autoescape, so a resident's name such as `<b>` stays text. Plain-text e-mail
templates (`.txt.j2`) do not: HTML entities in an e-mail body would be wrong, and the text is
never interpreted as markup.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

LANGUAGES = ("nl", "en")

# Words the report and register templates need, per language.
I18N: dict[str, dict[str, str]] = {
    "nl": {
        "exercise_note": "dit is een oefening; niet versturen of indienen",
        "breach": "Datalek",
        "status": "Status",
        "authority_reference": "Kenmerk toezichthouder",
        "follow_up_of": "Vervolg op",
        "aware": "Bekend sinds",
        "deadline": "Uiterste termijn",
        "generated": "Gemaakt op",
        "incomplete": "Nog niet compleet. Dit ontbreekt",
        "register_title": "Register van datalekken (AVG art. 33 lid 5)",
        "entries": "Aantal",
        "unanswered": "(nog niet ingevuld)",
        "yes": "ja",
        "no": "nee",
        "none": "geen",
    },
    "en": {
        "exercise_note": "this is an exercise; do not send or submit",
        "breach": "Breach",
        "status": "Status",
        "authority_reference": "Authority reference",
        "follow_up_of": "Follow-up of",
        "aware": "Aware since",
        "deadline": "Deadline",
        "generated": "Generated",
        "incomplete": "Not complete yet. Missing",
        "register_title": "Register of personal data breaches (GDPR Art. 33(5))",
        "entries": "Entries",
        "unanswered": "(not answered yet)",
        "yes": "yes",
        "no": "no",
        "none": "none",
    },
}


def _autoescape(name: str | None) -> bool:
    return name is not None and name.endswith(".html.j2")


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The template environment; built on first use, never at import."""
    return Environment(
        loader=PackageLoader("playbooks.breach", "templates"),
        autoescape=_autoescape,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render(template: str, **context: Any) -> str:
    """Render one template with `context`."""
    lang = context.get("lang", "nl")
    context.setdefault("t", I18N[lang])
    context.setdefault("exercise", None)
    return environment().get_template(template).render(**context)


def to_pdf(html: str) -> bytes:
    """HTML to PDF with WeasyPrint; fonts are the system's (DejaVu on Debian)."""
    from weasyprint import HTML  # noqa: PLC0415 - weasyprint: +1.19 s on start-up

    pdf: bytes = HTML(string=html).write_pdf()
    return pdf
