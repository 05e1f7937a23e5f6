"""Stopping early leaves open windows not evaluated; the report exists in two full versions,
Dutch and English, in Amsterdam time to the minute, with decisions, lessons and follow-up
actions."""

from __future__ import annotations

import io
import re
from datetime import UTC, date, datetime, timedelta

from pypdf import PdfReader
from sqlalchemy.orm import Session

from core.clock import FrozenClock
from drills import control, service
from drills.report_text import DUTCH_ONLY, ENGLISH_ONLY

START = datetime(2026, 3, 2, 9, 0, 7, 123456, tzinfo=UTC)


def test_stop_scores_only_closed_windows_and_the_report_is_bilingual(db: Session) -> None:
    clock = FrozenClock(START)
    exercise_id = control.create_exercise(
        db=db,
        clock=clock,
        loaded=service.get_scenario("insider-datalek"),
        mode="tabletop",
        controller="oefenleider",
        participants=[],
        actor="test",
    ).id
    service.start(db=db, clock=clock, exercise_id=exercise_id, actor="test")
    clock.advance(timedelta(minutes=600))  # E6 (480 min) has closed, E5 (1440 min) has not
    service.record_entry(
        db=db,
        clock=clock,
        exercise_id=exercise_id,
        kind="decision",
        text="Melden bij de AP",
        author="fg",
        role="fg",
    )
    service.stop(db=db, clock=clock, exercise_id=exercise_id, actor="test")
    status = {
        e.expectation_id: e.status for e in service.expectations(db=db, exercise_id=exercise_id)
    }
    assert status == {"E5": "unscored", "E6": "missed"}
    service.add_lesson(
        db=db,
        clock=clock,
        exercise_id=exercise_id,
        lesson="Belscript FG ontbrak",
        action="Belscript maken",
        owner="FG",
        due_on=date(2026, 6, 1),
    )
    report = service.build_report(db=db, clock=clock, exercise_id=exercise_id, actor="test")
    nl, en = service.report_html(report, "nl"), service.report_html(report, "en")
    assert nl == report.html and '<html lang="nl">' in nl and '<html lang="en">' in en
    assert "Criteria en resultaten" in nl and "Criteria and results" in en
    assert "niet beoordeeld" in nl and "niet gehaald" in nl
    assert "not evaluated" in en and "missed" in en
    for html in (nl, en):
        assert "02-03-2026 10:00" in html  # 09:00 UTC is 10:00 in Amsterdam (winter time)
        assert "123456" not in html and "+00:00" not in html
        assert "Melden bij de AP" in html  # what a participant typed stays as typed
        assert "OEFENING / EXERCISE" in html  # the exercise mark is the same in both
    # decide (E5, window open) has no verdict; communicate (E6, window closed) failed.
    assert re.search(r"1440\.0</td>\s*<td>niet gemeten</td>\s*<td class=\"unscored\">", nl)
    assert re.search(r"480\.0</td>\s*<td>niet gemeten</td>\s*<td class=\"failed\">", nl)
    assert re.search(r"1440\.0</td>\s*<td>not measured</td>\s*<td class=\"unscored\">", en)
    assert re.search(r"Belscript maken</td><td>FG</td><td>01-06-2026", nl)
    assert "besluit FG" in nl and "decision DPO" in en  # the timeline in each language
    # The scenario's own texts read in English too: title, criteria and expectations.
    assert "An employee leaks residents&#39; data" in en and "Medewerker lekt gegevens" in nl
    assert "Decision on notifying the AP within 24 hours of becoming aware." in en
    assert "The DPO decides whether the breach is notified to the AP" in en
    assert "Medewerker lekt" not in en and "Besluit over melding" not in en
    # The notes the platform wrote read in each version's language.
    assert "not met before the end of the exercise" in en
    assert "niet gehaald voor het einde van de oefening" in nl
    assert "not evaluated: stopped at minute 600, window open until minute 1440" in en
    assert "niet beoordeeld: gestopt op minuut 600, venster tot minuut 1440" in nl
    # Two full versions: neither holds the other's report text, in HTML nor in the PDF.
    for html, foreign in ((nl, ENGLISH_ONLY), (en, DUTCH_ONLY)):
        text = re.sub(r"<[^>]+>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S))
        found = [phrase for phrase in foreign if phrase in text]
        assert not found, found
    for lang, own, foreign in (("nl", DUTCH_ONLY, ENGLISH_ONLY), ("en", ENGLISH_ONLY, DUTCH_ONLY)):
        pdf = service.report_pdf(report, lang)
        text = " ".join(
            " ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages
        )
        assert all(phrase in text for phrase in own[:6]), (lang, text[:500])
        found = [phrase for phrase in foreign if phrase in text]
        assert not found, (lang, found)
    public_en = service.report_html(report, "en", public=True)
    assert "public summary" in public_en and "Melden bij de AP" not in public_en
