"""The drills domain's public service API (for the dashboard, the CLI and awareness).

Functions live in the sub-capability modules: scenarios (library), planning (schedules,
beat tick), control (controller), tabletop (injects, notes, scoring), technical (synthetic
events, automatic checks), criteria (frozen measures), report (after action), rollback.
"""

from drills.checks import check_scenarios
from drills.control import (
    advance,
    get_exercise,
    list_exercises,
    next_inject_minute,
    pause,
    resume,
    scenario_minutes,
    start,
    stop,
)
from drills.criteria import declare as declare_criteria
from drills.live import add_adhoc_inject, open_injects, skip_inject
from drills.models import Exercise
from drills.plan_form import (
    REPEATS,
    ROLE_HELP,
    PlanRequest,
    edit_plan,
    form_defaults,
    parse_plan,
    parse_when,
    participant_role,
    plan_values,
)
from drills.plan_form import plan as plan_exercise
from drills.planning import (
    KEEP,
    annual_cycle,
    cancel_schedule,
    create_schedule,
    list_schedules,
    move_schedule,
    tick,
    update_schedule,
)
from drills.report import (
    actions_of_owner,
    add_lesson,
    build_report,
    close_action,
    has_report,
    latest_report,
    lessons_of,
    open_actions,
    played_exercises,
    publish_summary,
    published_summaries,
    published_summary,
    report_html,
    report_pdf,
)
from drills.rollback import rollback
from drills.scenarios import ScenarioError, get_scenario, load_file, load_library
from drills.tabletop import (
    current_injects,
    entries,
    expectations,
    mark_expectation,
    record_entry,
)
from drills.technical import spool_sink

__all__ = [
    "KEEP",
    "REPEATS",
    "ROLE_HELP",
    "Exercise",
    "PlanRequest",
    "ScenarioError",
    "actions_of_owner",
    "add_adhoc_inject",
    "add_lesson",
    "advance",
    "annual_cycle",
    "build_report",
    "cancel_schedule",
    "check_scenarios",
    "close_action",
    "create_schedule",
    "current_injects",
    "declare_criteria",
    "edit_plan",
    "entries",
    "expectations",
    "form_defaults",
    "get_exercise",
    "get_scenario",
    "has_report",
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
    "plan_values",
    "played_exercises",
    "publish_summary",
    "published_summaries",
    "published_summary",
    "record_entry",
    "report_html",
    "report_pdf",
    "resume",
    "rollback",
    "scenario_minutes",
    "skip_inject",
    "spool_sink",
    "start",
    "stop",
    "tick",
    "update_schedule",
]
