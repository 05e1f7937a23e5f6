"""Stopping early leaves open windows not evaluated; the report reads in Dutch and English,
in Amsterdam time to the minute, with decisions, lessons and follow-up actions."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy.orm import Session

from core.clock import FrozenClock
from drills import service

START = datetime(2026, 3, 2, 9, 0, 7, 123456, tzinfo=UTC)


def test_stop_scores_only_closed_windows_and_the_report_is_bilingual(db: Session) -> None:
    clock = FrozenClock(START)
    exercise_id = service.create_exercise(
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
    html = service.build_report(db=db, clock=clock, exercise_id=exercise_id, actor="test").html
    assert "criteria and results" in html and "Criteria en resultaten" in html
    assert "niet beoordeeld / not evaluated" in html and "niet gehaald / missed" in html
    assert "02-03-2026 10:00" in html  # 09:00 UTC is 10:00 in Amsterdam (winter time)
    assert "123456" not in html and "+00:00" not in html
    assert "Melden bij de AP" in html
    # decide (E5, window open) has no verdict; communicate (E6, window closed) failed.
    assert re.search(
        r"1440\.0</td>\s*<td>niet gemeten / not measured</td>\s*<td class=\"unscored\">", html
    )
    assert re.search(
        r"480\.0</td>\s*<td>niet gemeten / not measured</td>\s*<td class=\"niet\">", html
    )
    assert re.search(r"Belscript maken</td><td>FG</td><td>01-06-2026", html)
