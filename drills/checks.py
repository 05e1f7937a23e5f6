"""`drills check`: every reference of every scenario resolved, every technical expectation proven.

Schema validation (drills.scenarios) says a file is well formed; this module says it can be
played and passed: rule ids exist in the rule pack, playbook step ids exist in the playbook
library, inject times fall inside the exercise, and for each detection expectation the
scenario's own synthetic events, run through the real rule engine in memory (no servers),
fire the named rule. Each check is reported, so a green run says what it proved.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from core.content import DataPath, Issue, load_yaml
from core.content.safe_yaml import Document
from detection import service as detection
from drills.scenarios import check_directory, load_file
from drills.schemas import LoadedScenario
from drills.technical import build_events
from playbooks import service as playbooks

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
CHECK_EXERCISE = "oef-check"


@dataclass
class CheckReport:
    """What was checked (one line each) and the located problems."""

    checked: list[str] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not any(issue.is_error for issue in self.issues)


def scenario_events(loaded: LoadedScenario) -> list[dict[str, Any]]:
    """All synthetic events of a scenario, stamped at their inject's scenario minute."""
    events: list[dict[str, Any]] = []
    for inject in loaded.scenario.msel:
        start = T0 + timedelta(minutes=inject.at_minute)
        events += build_events(inject=inject, exercise_id=CHECK_EXERCISE, start=start)
    events.sort(key=lambda event: str(event["@timestamp"]))
    return events


def check_scenarios(
    directory: Path,
    *,
    rule_paths: Sequence[Path] = (detection.SHIPPED_RULES,),
    playbook_dir: Path | None = None,
) -> CheckReport:
    """Validate the files, then resolve and prove every reference of every valid scenario."""
    report = CheckReport(issues=check_directory(directory))
    if not report.ok:
        return report
    library = playbooks.load_library(playbook_dir) if playbook_dir else playbooks.load_library()
    steps = {step.id for item in library.values() for step in item.playbook.steps}
    for path in sorted(directory.glob("*.y*ml")):
        loaded = load_file(path)
        document = load_yaml(path, source=str(path)).document

        locate = _Locator(report, str(path), document)
        _check_one(loaded, report, locate, steps=steps, rule_paths=rule_paths)
    return report


@dataclass
class _Locator:
    """Adds an issue at a data path of one file, with its line."""

    report: CheckReport
    file: str
    document: Document | None

    def __call__(self, where: DataPath, message: str, *, warning: bool = False) -> None:
        line = self.document.line_of(where) if self.document is not None else None
        found = Issue(self.file, line, _name(where), message)
        if warning:
            found = Issue(self.file, line, _name(where), message, "warning")
        self.report.issues.append(found)


def _name(path: DataPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _check_english(scenario: Any, report: CheckReport, issue: _Locator) -> None:
    """The report is written in Dutch and in English: a text without English is a warning."""
    missing = 0
    if not scenario.title_en:
        issue(("title",), "no title_en: the English report shows the Dutch title", warning=True)
        missing += 1
    for section, items in (
        ("criteria", scenario.criteria),
        ("expectations", scenario.expectations),
    ):
        for index, item in enumerate(items):
            if not item.text_en:
                issue(
                    (section, index, "text"),
                    f"{item.id} has no text_en: the English report shows the Dutch text",
                    warning=True,
                )
                missing += 1
    if not missing:
        report.checked.append(f"{scenario.id}: title, criteria and expectations in English too")


def _check_one(
    loaded: LoadedScenario,
    report: CheckReport,
    issue: _Locator,
    *,
    steps: set[str],
    rule_paths: Sequence[Path],
) -> None:
    scenario = loaded.scenario
    horizon = max(e.within_minutes for e in scenario.expectations)
    for index, inject in enumerate(scenario.msel):
        if inject.at_minute > horizon:
            issue(
                ("msel", index, "at_minute"),
                f"inject {inject.id} at minute {inject.at_minute:g} comes after the last "
                f"expectation closes (minute {horizon:g}); no one is scored on it",
            )
    report.checked.append(
        f"{scenario.id}: {len(scenario.msel)} injects inside minute 0-{horizon:g}, "
        f"roles {', '.join(scenario.roles)}"
    )
    _check_english(scenario, report, issue)
    for index, expectation in enumerate(scenario.expectations):
        if expectation.kind == "playbook_step":
            if expectation.step not in steps:
                issue(
                    ("expectations", index, "step"),
                    f"playbook step {expectation.step!r} exists in no playbook",
                )
            else:
                report.checked.append(
                    f"{scenario.id} {expectation.id}: playbook step {expectation.step} exists"
                )
    detections = [
        (index, e) for index, e in enumerate(scenario.expectations) if e.kind == "detection"
    ]
    if "technical" not in scenario.modes or not detections:
        return
    events = scenario_events(loaded)
    run = detection.dry_run(events=events, paths=rule_paths)
    for index, expectation in detections:
        rule = str(expectation.rule_id)
        if rule not in run.known:
            issue(
                ("expectations", index, "rule_id"),
                f"rule {rule!r} does not exist in the rule pack (an alerting rule's id)",
            )
        elif rule not in run.fired:
            issue(
                ("expectations", index, "rule_id"),
                f"the scenario's {len(events)} synthetic events do not fire rule {rule!r} "
                f"({run.known[rule]}); change the injected events or the rule",
            )
        else:
            report.checked.append(
                f"{scenario.id} {expectation.id}: {len(events)} synthetic events fire rule "
                f"{rule} ({run.known[rule]})"
            )
