"""Letters to residents: both languages, PDFs, DPO approval, a record of what went to whom,
and the property that no letter ever mentions another recipient."""

from __future__ import annotations

import csv
import html
import io

import pytest
from hypothesis import HealthCheck, assume, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from core.accounts.models import User
from core.clock import FrozenClock
from core.config import Settings
from core.errors import ValidationError
from playbooks.breach import letters, rendering
from playbooks.breach.models import Breach, LetterBatch, LetterRecipient
from playbooks.breach.states import State
from tests.playbooks.breach.support import walk_to
from tests.playbooks.breach.test_reports import pdf_text

TEXTS = {
    lang: {
        "what_happened": f"[{lang}] Iemand kopieerde dossiers uit ons systeem.",
        "consequences": f"[{lang}] Iemand kan uw gegevens misbruiken.",
        "measures": f"[{lang}] Wij hebben het account geblokkeerd.",
        "advice": f"[{lang}] Let op vreemde post en e-mail.",
    }
    for lang in ("nl", "en")
}
CSV = (
    "identifier,name,address,postcode,city,email,pseudonym,language,data\n"
    "R-001,Jan Jansen,Dorpsstraat 1,9711 AA,Dijkstad,jan@example.org,P-7f3a,nl,naam;BSN\n"
    "R-002,Mary Smith,Main Road 2,9712 BB,Dijkstad,,P-1b2c,en,\n"
)


def _batch(db: Session, clock: FrozenClock, settings: Settings, dpo: User, text: str = CSV):
    breach = walk_to(State.NOTIFICATION_DUE, db=db, clock=clock, settings=settings, dpo=dpo)
    return breach, letters.create_letter_batch(
        db=db, clock=clock, actor="ali", breach_id=breach.id, recipients_csv=text, texts=TEXTS
    )


def test_every_template_renders_in_both_languages() -> None:
    templates = rendering.environment().list_templates()
    assert set(templates) >= {
        "letter.nl.html.j2", "letter.en.html.j2", "email.nl.txt.j2", "email.en.txt.j2",
        "report.html.j2", "register.html.j2",
    }  # fmt: skip
    context = {
        "organisation": "Gemeente Dijkstad", "reference": "DL-2026-0001", "date": "28-03-2026",
        "recipient": {"name": "<b>Jan</b>", "address": "A 1", "postcode": "1", "city": "D"},
        "data": ["naam"], "texts": TEXTS["nl"],
        "contact": {"name": "FG", "email": None, "phone": None},
        "title": "T", "status": "draft", "authority_reference": None, "parent_reference": None,
        "aware": "x", "deadline": "y", "generated": "z", "missing": [], "sections": [],
        "columns": ["a"], "rows": [["b"]],
    }  # fmt: skip
    for name in templates:
        if name.startswith("_"):
            continue
        for lang in rendering.LANGUAGES:
            if name.startswith(("letter.", "email.")) and f".{lang}." not in name:
                continue
            out = rendering.render(name, lang=lang, **context)
            assert out.strip()
            if (name.endswith(".html.j2") and "recipient" in name) or name.startswith("letter"):
                assert "&lt;b&gt;Jan&lt;/b&gt;" in out and "<b>Jan</b>" not in out  # autoescape
            if name == "report.html.j2":
                assert rendering.I18N[lang]["generated"] in out


def test_letters_pdfs_approval_and_record_of_sending(
    db: Session, clock: FrozenClock, settings: Settings, dpo: User, analyst: User
) -> None:
    breach, batch = _batch(db, clock, settings, dpo)
    previews = letters.preview_letters(db=db, clock=clock, settings=settings, batch_id=batch.id)
    assert [p.language for p in previews] == ["nl", "en"]
    dutch = pdf_text(previews[0].pdf())
    for fact in ("Beste Jan Jansen", "Dorpsstraat 1", breach.reference, "BSN",
                 "Wat kunt u doen?", "fg@dijkstad.example", "[nl] Iemand kopieerde"):  # fmt: skip
        assert fact in dutch, fact
    english = pdf_text(previews[1].pdf())
    assert "Dear Mary Smith" in english and "What can you do?" in english
    assert "adres" in english  # no own list: the breach's data categories
    assert "Subject: Something went wrong" in previews[1].email_text
    with pytest.raises(ValidationError, match="approve"):
        letters.release_letter_batch(
            db=db, clock=clock, settings=settings, actor="fenna", batch_id=batch.id
        )
    with pytest.raises(ValidationError, match="DPO"):
        letters.approve_letter_batch(db=db, clock=clock, dpo=analyst, batch_id=batch.id)
    letters.approve_letter_batch(db=db, clock=clock, dpo=dpo, batch_id=batch.id)
    # Changing the text after approval withdraws the approval.
    letters.update_texts(db=db, clock=clock, actor="fenna", batch_id=batch.id, texts=TEXTS)
    assert letters.get_batch(db=db, batch_id=batch.id).status == "draft"
    letters.approve_letter_batch(db=db, clock=clock, dpo=dpo, batch_id=batch.id)
    sent = letters.release_letter_batch(
        db=db, clock=clock, settings=settings, actor="fenna", batch_id=batch.id
    )
    assert len(sent) == 2
    record = letters.recipients(db=db, batch_id=batch.id)
    assert [(r.identifier, r.channel) for r in record] == [("R-001", "email"), ("R-002", "post")]
    assert all(r.sent_at == clock.now() and len(r.content_sha256 or "") == 64 for r in record)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("name\nJan\n", "identifier"),
        ("identifier,name\n1,\n", "name"),
        ("identifier,name\n1,A\n1,B\n", "identifier"),
        ("identifier,name,language\n1,A,de\n", "language"),
        ("identifier,name,iban\n1,A,NL01\n", "iban"),
        ("identifier,name\n", "recipients"),
    ],
)
def test_bad_recipient_lists_name_the_column(text: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        letters.parse_recipients(text)
    assert caught.value.field == field


_token = (
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")),
        min_size=4,
        max_size=30,
    )
    .map(str.strip)
    .filter(lambda s: len(s) >= 4)
)


@st.composite
def _people(draw: st.DrawFn) -> list[dict[str, str]]:
    count = draw(st.integers(min_value=2, max_value=5))
    people = []
    for i in range(count):
        people.append(
            {
                "identifier": f"ID{i}-" + draw(_token),
                "name": draw(_token),
                "address": draw(_token),
                "pseudonym": draw(_token),
                "language": draw(st.sampled_from(["nl", "en"])),
            }
        )
    return people


def _forms(value: str) -> set[str]:
    return {value, html.escape(value), html.escape(value, quote=False)}


@hsettings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(people=_people())
def test_no_letter_mentions_another_recipient(
    people: list[dict[str, str]], settings: Settings, clock: FrozenClock
) -> None:
    # Values must be distinguishable: none may occur inside another person's values or in the
    # fixed letter text, or "contains" would prove nothing.
    values = [(i, v) for i, p in enumerate(people) for k, v in p.items() if k != "language"]
    for i, v in values:
        for j, w in values:
            assume(i == j or (v not in w and w not in v))
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=["identifier", "name", "address", "pseudonym", "language"]
    )
    writer.writeheader()
    writer.writerows(people)
    parsed = letters.parse_recipients(out.getvalue())
    # Unsaved model objects: rendering needs no database.
    breach = Breach(exercise_id=None, reference="DL-2026-0001", data_categories=["naam", "adres"])
    batch = LetterBatch(texts=TEXTS)
    fixed = ""  # every word the templates write themselves, in both languages
    for lang in ("nl", "en"):
        blank = letters.render_letter(
            breach=breach, batch=batch, settings=settings, clock=clock,
            recipient=LetterRecipient(
                id=0, identifier="", name="", address="", postcode="", city="", language=lang,
                data_items=[],
            ),
        )  # fmt: skip
        fixed += blank.html + blank.email_text
    for _i, value in values:
        assume(all(form not in fixed for form in _forms(value)))
    for i, person in enumerate(parsed):
        keys = ("identifier", "name", "address", "pseudonym", "language")
        row = LetterRecipient(
            id=i, postcode="", city="", data_items=[], **{k: getattr(person, k) for k in keys}
        )
        letter = letters.render_letter(
            breach=breach,
            batch=batch,
            recipient=row,
            settings=settings,
            clock=clock,  # type: ignore[arg-type]
        )
        assert person.name in html.unescape(letter.html) and person.name in letter.email_text
        for j, other in enumerate(parsed):
            if j == i:
                continue
            for value in (other.name, other.address, other.pseudonym, other.identifier):
                for form in _forms(value):
                    assert form not in letter.html, (value, "html")
                    assert form not in letter.email_text, (value, "email")
