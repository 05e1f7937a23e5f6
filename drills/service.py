"""The drills domain's public service API (for the dashboard, the CLI and awareness).

Functions live in the sub-capability modules: scenarios (library), planning (schedules,
beat tick), control (controller), tabletop (injects, notes, scoring), technical (synthetic
events, automatic checks), criteria (frozen measures), report (after action), rollback.
"""

from drills.checks import CheckReport, check_scenarios, scenario_events
from drills.control import (
    advance,
    create_exercise,
    get_exercise,
    list_exercises,
    next_inject_minute,
    pause,
    resume,
    scenario_minutes,
    set_grip,
    start,
    stop,
)
from drills.criteria import declare as declare_criteria
from drills.criteria import verify as criteria_intact
from drills.live import add_adhoc_inject, open_injects, skip_inject
from drills.mailer import allowed_recipients
from drills.models import Exercise
from drills.plan_form import (
    REPEATS,
    ROLE_HELP,
    PlanRequest,
    form_defaults,
    parse_plan,
    parse_when,
    participant_role,
)
from drills.plan_form import plan as plan_exercise
from drills.planning import (
    QUARTER,
    annual_cycle,
    cancel_schedule,
    create_schedule,
    list_schedules,
    move_schedule,
    run_schedules,
    tick,
)
from drills.report import (
    ExerciseRecord,
    add_lesson,
    build_report,
    close_action,
    latest_report,
    lessons_of,
    open_actions,
    played_exercises,
    publish_summary,
    published_summaries,
    published_summary,
)
from drills.rollback import rollback
from drills.scenarios import ScenarioError, check_directory, get_scenario, load_file, load_library
from drills.tabletop import (
    current_injects,
    entries,
    expectations,
    mark_expectation,
    record_entry,
    release_due,
)
from drills.technical import EventSink, build_events, check_expectations, spool_sink

__all__ = [
    "QUARTER",
    "REPEATS",
    "ROLE_HELP",
    "CheckReport",
    "EventSink",
    "Exercise",
    "ExerciseRecord",
    "PlanRequest",
    "ScenarioError",
    "add_adhoc_inject",
    "add_lesson",
    "advance",
    "allowed_recipients",
    "annual_cycle",
    "build_events",
    "build_report",
    "cancel_schedule",
    "check_directory",
    "check_expectations",
    "check_scenarios",
    "close_action",
    "create_exercise",
    "create_schedule",
    "criteria_intact",
    "current_injects",
    "declare_criteria",
    "entries",
    "expectations",
    "form_defaults",
    "get_exercise",
    "get_scenario",
    "latest_report",
    "lessons_of",
    "list_exercises",
    "list_schedules",
    "load_file",
    "load_library",
    "mark_expectation",
    "move_schedule",
    "next_inject_minute",
    "open_actions",
    "open_injects",
    "parse_plan",
    "parse_when",
    "participant_role",
    "pause",
    "plan_exercise",
    "played_exercises",
    "publish_summary",
    "published_summaries",
    "published_summary",
    "record_entry",
    "release_due",
    "resume",
    "rollback",
    "run_schedules",
    "scenario_events",
    "scenario_minutes",
    "set_grip",
    "skip_inject",
    "spool_sink",
    "start",
    "stop",
    "tick",
]
