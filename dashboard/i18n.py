"""Two languages for the dashboard: gettext catalogues (Babel) for Dutch and English.

Templates use `{{ _("English text") }}` (jinja2.ext.i18n, new-style gettext); the msgid is the
English text, `dashboard/locale/nl/LC_MESSAGES/messages.po` holds the Dutch. The catalogues are
compiled in memory when the app starts, so the repository holds only the .po sources. The
language of a request comes from the `dijkwacht_lang` cookie the switch in the header sets
(Dutch by default, the municipality's language) and is kept in a context variable for the
request, so no view builds a translated string by hand.
"""

from __future__ import annotations

import io
import re
from contextvars import ContextVar
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from starlette.types import ASGIApp, Receive, Scope, Send

LANGUAGES = ("nl", "en")
DEFAULT_LANGUAGE = "nl"
LANGUAGE_COOKIE = "dijkwacht_lang"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
_current: ContextVar[str] = ContextVar("dashboard_language", default=DEFAULT_LANGUAGE)

# Problems the services write with values in them (they speak English to the CLI and the API):
# the text's shape -> the catalogue msgid whose %(name)s placeholders take the values. Pages show
# them through the `translate` filter; a problem without an entry is shown as the service wrote it.
_Q = r"'[^']*'"
PROBLEMS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(shape), msgid)
    for shape, msgid in (
        # case work (playbooks/incidents.py)
        (rf"^no account named (?P<name>{_Q})$", "no account named %(name)s"),
        (rf"^account (?P<name>{_Q}) is disabled$", "account %(name)s is disabled"),
        (
            rf"^cannot go from (?P<current>{_Q}) to (?P<target>{_Q}) "
            r"\(allowed from [^:]+: (?P<allowed>.*)\)$",
            "cannot go from %(current)s to %(target)s (allowed: %(allowed)s)",
        ),
        (r"^longer than (?P<limit>\d+) characters$", "longer than %(limit)s characters"),
        (r"^must be one of (?P<options>.+)$", "must be one of %(options)s"),
        (
            r"^incident (?P<id>\d+) was merged into #(?P<into>\d+); work there$",
            "incident %(id)s was merged into #%(into)s; work there",
        ),
        # clocks (dashboard/services/dpo_words.time_left)
        (
            r"^overdue by (?P<hours>\d+) h (?P<minutes>\d+) min$",
            "overdue by %(hours)s h %(minutes)s min",
        ),
        (r"^(?P<hours>\d+) h (?P<minutes>\d+) min left$", "%(hours)s h %(minutes)s min left"),
        # exercises (drills/plan_form.py, dashboard/views/drills.py)
        (r"^choose a scenario \((?P<known>.*)\)$", "choose a scenario (%(known)s)"),
        (r"^this scenario supports (?P<modes>.+)$", "this scenario supports %(modes)s"),
        (r"^choose one of: (?P<options>.+)$", "choose one of: %(options)s"),
        (
            r"^a number from 0\.1 to 3600, not (?P<value>.+)$",
            "a number from 0.1 to 3600, not %(value)s",
        ),
        (
            r"^not a valid e-mail address: (?P<value>.+)$",
            "not a valid e-mail address: %(value)s",
        ),
        (
            r"^choose the role you record this for: (?P<roles>.+)$",
            "choose the role you record this for: %(roles)s",
        ),
        # breach (playbooks/breach/)
        (
            r"^cannot go from (?P<current>\w+) to (?P<target>\w+): (?P<reason>.+)$",
            "cannot go from %(current)s to %(target)s: %(reason)s",
        ),
        (r"^the breach is already (?P<state>\w+)$", "the breach is already %(state)s"),
        (
            r"^not a step of the workflow; from (?P<current>\w+) the next step is one of: "
            r"(?P<allowed>.+)$",
            "not a step of the workflow; from %(current)s the next step is one of: %(allowed)s",
        ),
        (
            r"^start the assessment first \(breach is (?P<state>\w+)\)$",
            "start the assessment first (breach is %(state)s)",
        ),
        (
            r"^the DPO has not decided to notify \(breach is (?P<state>\w+)\)$",
            "the DPO has not decided to notify (breach is %(state)s)",
        ),
        (r"^incident (?P<id>\d+) does not exist$", "incident %(id)s does not exist"),
        (r"^empty on line (?P<line>\d+)$", "empty on line %(line)s"),
        (r"^unknown column; known: (?P<known>.+)$", "unknown column; known: %(known)s"),
        (
            r"^line (?P<line>\d+): (?P<value>.+) is not nl or en$",
            "line %(line)s: %(value)s is not nl or en",
        ),
        (r"^(?P<value>.+) is not nl or en$", "%(value)s is not nl or en"),
        (r"^(?P<value>.+) is not an e-mail address$", "%(value)s is not an e-mail address"),
        (
            r"^(?P<kind>report|batch) (?P<id>\d+) is (?P<status>\w+), not a draft$",
            "%(kind)s %(id)s is %(status)s, not a draft",
        ),
        (
            r"^the DPO must approve batch (?P<id>\d+) first \((?P<status>\w+)\)$",
            "the DPO must approve batch %(id)s first (%(status)s)",
        ),
        (
            r"^cannot finalise (?P<kind>\w+); missing: (?P<missing>.+)$",
            "cannot finalise %(kind)s; missing: %(missing)s",
        ),
    )
)


def load_catalogues(directory: Path = LOCALE_DIR) -> dict[str, NullTranslations]:
    """Every language's catalogue, compiled from its .po file; English falls back to msgids."""
    found: dict[str, NullTranslations] = {}
    for lang in LANGUAGES:
        po = directory / lang / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            found[lang] = NullTranslations()
            continue
        with po.open("rb") as source:
            catalog = read_po(source, locale=lang)
        compiled = io.BytesIO()
        write_mo(compiled, catalog)
        compiled.seek(0)
        found[lang] = Translations(fp=compiled)
    return found


def current_language() -> str:
    return _current.get()


def language_of(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE


class Gettext:
    """The gettext callables Jinja gets: they translate into the current request's language."""

    def __init__(self, catalogues: dict[str, NullTranslations]) -> None:
        self.catalogues = catalogues

    def gettext(self, message: str) -> str:
        return self.catalogues[current_language()].gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.catalogues[current_language()].ngettext(singular, plural, n)

    def problem(self, message: str) -> str:
        """A service's problem text in the current language: the catalogue's entry for the whole
        text, else the entry for its shape (PROBLEMS) with the values put back, the reason of a
        refused step translated too; else the text as it is."""
        if not isinstance(message, str) or not message:
            return message
        translated = self.gettext(message)
        if translated != message:
            return translated
        for shape, msgid in PROBLEMS:
            if found := shape.match(message):
                values = found.groupdict()
                if "reason" in values:
                    values["reason"] = self.problem(values["reason"])
                return self.gettext(msgid) % values
        return message


class LanguageMiddleware:
    """Sets the request's language from its cookie before any template renders."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = _current.set(language_of(_cookie(scope, LANGUAGE_COOKIE)))
        try:
            await self.app(scope, receive, send)
        finally:
            _current.reset(token)


def _cookie(scope: Scope, name: str) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                k, _, v = part.strip().partition("=")
                if k == name:
                    return v
    return None


def install(env: Any) -> None:
    """Add the i18n extension to a Jinja environment with the dashboard's catalogues."""
    texts = Gettext(load_catalogues())
    env.add_extension("jinja2.ext.i18n")
    env.install_gettext_callables(texts.gettext, texts.ngettext, newstyle=True)
    env.globals["current_language"] = current_language
    # For texts that are not template literals (error messages): a plain str, so autoescape
    # still escapes it; `_()` would mark the catalogue's answer as safe markup.
    env.filters["translate"] = texts.problem
