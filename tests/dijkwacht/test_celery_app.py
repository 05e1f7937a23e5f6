"""The platform's Celery app is assembled from the domains' own task modules (#22 point 9)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from core.config import load_settings
from dijkwacht.celery_app import TASK_MODULES, beat_schedule, create_app
from dijkwacht.supervisor import plan_children

# Every beat entry the platform had when `core/queue.py` listed them itself (DOMAIN_SCHEDULES
# and SCHEDULE_HOOKS), with the default settings of the test environment: name -> (task, s).
ALWAYS = {
    "breach-reminders": ("breach.fire_reminders", 60),
    "breach-accept-handoffs": ("breach.accept_handoffs", 30),
    "breach-send-letters": ("breach.send_letters", 30),
    "breach-purge-letter-recipients": ("breach.purge_letter_recipients", 3600),
    "playbooks-route-alerts": ("playbooks.route_alerts", 15),
    "playbooks-resume-runs": ("playbooks.resume_runs", 60),
    "drills-tick": ("drills.tick", 10),
    "collectors-refresh-context": ("collectors.refresh_context", 300),
    "collectors-check-expected-sources": ("collectors.check_expected_sources", 60),
    "ldv-export-context": ("ldv.export_context", 300),
    "ldv-check-streams": ("ldv.check_streams", 3600),
    "compliance-check": ("compliance.check", 300),
}
# Entries that exist only when their settings ask for them.
CONDITIONAL = {
    "detection-scheduled-search": ("detection.scheduled_search", 7),  # event_store=elasticsearch
    "advisories-refresh": ("advisories.refresh", 600),  # advisory_sources
    "intel-refresh": ("intel.refresh", 90),  # intel_feeds
}


def _summary(schedule: dict[str, dict[str, object]]) -> dict[str, tuple[object, float]]:
    summary = {}
    for name, entry in schedule.items():
        interval = entry["schedule"]
        assert isinstance(interval, timedelta), name
        summary[name] = (entry["task"], interval.total_seconds())
    return summary


def test_the_default_schedule_holds_every_entry_it_held_before(tmp_path: Path) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path)
    assert _summary(beat_schedule(settings)) == ALWAYS


def test_the_conditional_entries_join_when_their_settings_ask(tmp_path: Path) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        event_store="elasticsearch",
        scheduled_search_every_seconds=7,
        advisory_sources=[str(tmp_path / "csaf")],
        advisory_refresh_minutes=10,
        intel_feeds={"ibd": {"location": str(tmp_path / "feed.json"), "format": "stix"}},
        intel_refresh_every_seconds=90,
    )
    assert _summary(beat_schedule(settings)) == {**ALWAYS, **CONDITIONAL}


def test_every_scheduled_task_is_registered_by_the_assembled_app(tmp_path: Path) -> None:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path,
        event_store="elasticsearch",
        advisory_sources=[str(tmp_path / "csaf")],
        intel_feeds={"ibd": {"location": str(tmp_path / "feed.json"), "format": "stix"}},
    )
    app = create_app(settings)
    app.loader.import_default_modules()  # what a worker does at start: import `include`
    assert tuple(app.conf.include) == TASK_MODULES
    scheduled = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert scheduled == {task for task, _ in (*ALWAYS.values(), *CONDITIONAL.values())}
    assert scheduled <= set(app.tasks), scheduled - set(app.tasks)


def test_worker_and_beat_load_the_assembled_app(tmp_path: Path) -> None:
    settings = load_settings(environment="test", data_dir=tmp_path)
    argv = {child.name: list(child.argv) for child in plan_children(settings)}
    for name in ("worker", "beat"):
        assert argv[name][argv[name].index("-A") + 1] == "dijkwacht.celery_entry"
    compose = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text()
    assert "core.celery_entry" not in compose and compose.count("dijkwacht.celery_entry") == 3
