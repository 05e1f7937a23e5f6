"""A technical inject's events: the demo world's series, every one marked as exercise data."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from drills.scenarios import load_file
from drills.schemas import Inject
from drills.technical import build_events

SCENARIOS = Path(__file__).resolve().parents[2] / "drills" / "scenarios"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def _inject(**events: object) -> Inject:
    return Inject.model_validate(
        {"id": "I9", "at_minute": 0, "kind": "alert", "to": ["it"], "title": "Test",
         "text": "Test inject", "events": events}
    )  # fmt: skip


def test_a_shipped_inject_gives_numbered_events_all_marked_as_exercise() -> None:
    loaded = load_file(SCENARIOS / "phishinggolf.yml")
    inject = next(i for i in loaded.scenario.msel if i.events is not None)
    events = build_events(inject=inject, exercise_id="oef-7", start=T0)
    assert len(events) == 5
    for n, event in enumerate(events, start=1):
        assert event["dijkwacht"]["exercise"] == {"id": "oef-7"}
        assert "exercise" in event["tags"]
        assert event["labels"]["oefening"] == "OEFENING / EXERCISE"
        assert event["event"]["original"].startswith(f"OEFENING oef-7 {inject.id} #{n}: ")
        assert event["user"]["name"] == f"medewerker-{n}"
        assert event["event"]["dataset"] == "app.auth"  # the template's, not the default
        seconds = (datetime.fromisoformat(event["@timestamp"]) - T0).total_seconds()
        assert seconds == 5 * (n - 1)


def test_marks_merge_with_what_the_template_carries() -> None:
    inject = _inject(
        count=2,
        template={
            "tags": ["exercise", "phish"],
            "labels": {"team": "rood"},
            "dijkwacht": {"subject": {"pseudonym": "oef-{n}"}},
        },
    )
    first, second = build_events(inject=inject, exercise_id="oef-1", start=T0)
    assert first["tags"] == ["exercise", "phish"]  # not doubled
    assert first["labels"] == {"team": "rood", "oefening": "OEFENING / EXERCISE"}
    assert second["dijkwacht"] == {"subject": {"pseudonym": "oef-2"}, "exercise": {"id": "oef-1"}}
    assert first["event"]["dataset"] == "drills.synthetic" and first["event"]["kind"] == "event"


def test_an_inject_without_events_gives_none() -> None:
    inject = Inject.model_validate(
        {"id": "I1", "at_minute": 0, "kind": "phone", "to": ["it"], "title": "Bel", "text": "Bel"}
    )
    assert build_events(inject=inject, exercise_id="oef-1", start=T0) == []
