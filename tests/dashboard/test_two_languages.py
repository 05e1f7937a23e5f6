"""Issue #18: the whole dashboard in Dutch and English. Every GET page every role may open is
rendered in English and in Dutch; the English page may not show frequent Dutch words of our
templates, the Dutch page not English-only interface words. User data (titles, names) is kept
free of these words in the world the pages show, so a hit is a text built outside the catalogue;
authored content in one language only carries its `lang` attribute and is left out.
"""

from __future__ import annotations

import re

import pytest

from core.accounts.models import Role
from tests.dashboard.conftest import Env, add_user, login
from tests.dashboard.pages import a_world, page_paths, visible_text

# Frequent words in our Dutch texts that no English sentence contains.
DUTCH = ("de", "het", "een", "niet", "geen", "nog", "bekijken", "opslaan", "wordt", "zijn",
         "voor", "naar", "uiterlijk", "oefening", "melding", "verzoek", "inwoner")  # fmt: skip
# English interface words that no Dutch sentence contains.
ENGLISH = ("the", "save", "cancel", "search", "none", "yet", "record", "show", "not",
           "open the", "due", "request", "people", "which")  # fmt: skip
# The exercise mark is bilingual on purpose (it must be recognised in any language).
ALWAYS = ("OEFENING / EXERCISE", "OEFENING/EXERCISE")
# Pages that list authored English content as it is written (MITRE ATT&CK technique names, rule
# titles); their interface text is checked in English, not their Dutch rendering.
AUTHORED_IN_ENGLISH = ("/attack", "/rules")
# Authored text that exists in one language only is marked with its `lang` (as WCAG 3.1.2 asks).
OTHER_LANGUAGE = {
    language: re.compile(rf'(?is)<(td|p|span|div|strong)\b[^>]*\blang="{other}"[^>]*>.*?</\1>')
    for language, other in (("en", "nl"), ("nl", "en"))
}


def _hits(text: str, words: tuple[str, ...]) -> list[str]:
    for mark in ALWAYS:
        text = text.replace(mark, " ")
    found = []
    for word in words:
        for match in re.finditer(rf"(?i)(?<![\w-]){re.escape(word)}(?![\w-])", text):
            found.append(text[max(0, match.start() - 40) : match.end() + 40].strip())
            break
    return found


def _rendered(env: Env, role: Role) -> dict[str, dict[str, str]]:
    """Each page this role may open, by language, as visible text."""
    alert_id, incident_id = a_world(env)
    add_user(env, "someone", role)
    client = env.client()
    login(client, "someone")
    paths = [*page_paths(env), f"/alerts/{alert_id}", f"/incidents/{incident_id}"]
    pages: dict[str, dict[str, str]] = {}
    for language in ("en", "nl"):
        client.get(f"/language/{language}", params={"next": "/"})
        pages[language] = {}
        for path in paths:
            response = client.get(path, params={"purpose": "check"})
            if response.status_code != 200 or "text/html" not in response.headers["content-type"]:
                continue  # not this role's page
            assert f'<html lang="{language}">' in response.text, path
            html = OTHER_LANGUAGE[language].sub(" ", response.text)
            pages[language][path] = " ".join(visible_text(html).split())
        assert len(pages[language]) >= 3, f"{role.value}: only {len(pages[language])} pages"
    return pages


@pytest.mark.parametrize("role", list(Role))
def test_english_pages_show_no_dutch_words_and_dutch_pages_no_english_ones(
    env: Env, role: Role
) -> None:
    pages = _rendered(env, role)
    dutch_in_english = {
        path: hits for path, text in pages["en"].items() if (hits := _hits(text, DUTCH))
    }
    english_in_dutch = {
        path: hits
        for path, text in pages["nl"].items()
        if not path.startswith(AUTHORED_IN_ENGLISH) and (hits := _hits(text, ENGLISH))
    }
    assert dutch_in_english == {}
    assert english_in_dutch == {}


def test_service_problems_with_values_go_through_the_catalogue() -> None:
    from babel.messages.pofile import read_po

    from dashboard.i18n import LOCALE_DIR, PROBLEMS, Gettext, _current, load_catalogues

    with (LOCALE_DIR / "nl" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        dutch = {m.id: m.string for m in read_po(po) if m.id}
    assert [msgid for _, msgid in PROBLEMS if not dutch.get(msgid)] == []
    texts = Gettext(load_catalogues())
    refused = "cannot go from closed to assessing: " + (
        "a closed breach is final; register a new breach for new facts"
    )
    token = _current.set("nl")
    try:
        assert texts.problem(refused) == (
            "van closed naar assessing kan niet: een afgesloten datalek verandert niet meer; "
            "registreer een nieuw datalek voor nieuwe feiten"
        )
        assert texts.problem("no account named 'x'") == "er is geen account met de naam 'x'"
        assert texts.problem("something nobody wrote down") == "something nobody wrote down"
        # the clocks' time left (dashboard/services/dpo_words.time_left)
        assert texts.problem("3 h 05 min left") == "nog 3 u 05 min"
        assert texts.problem("overdue by 2 h 00 min") == "2 u 00 min te laat"
    finally:
        _current.reset(token)
    token = _current.set("en")
    try:
        assert texts.problem(refused) == refused  # English is the service's own text
    finally:
        _current.reset(token)
