"""Detection service: load Sigma rules under pipeline stacks and match batches of events.

The rest of the platform calls only this module (alert triage, the queue and bulk status
changes, is ``detection.triage``, exposed here too)::

    rules = load_rules(paths=[Path("rules")], stacks=["sysmon+windows-logsources"])
    for match in rules.match_batch(events):
        ...

How rule files become compiled rules (per stack, cached per file) is ``detection.parts``;
this module assembles them into engines and answers matches.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.store.base import AlertQuery, AlertStore

# Re-exported for other domains (compliance) and the roots: alerts the platform raises about
# itself, rule coverage, and rule management (enable/disable, explain, Lucene conversion).
from detection.alerts import (
    AttackResolver,
    Candidate,
    DedupPolicy,
    decide,
    deliver_outbox,
    fingerprint,
    queue_platform_alert,
)
from detection.attack import AttackCatalog, get_attack_catalog
from detection.attack_data import (
    AttackDataError,
    build_attack_bundle,
    default_attack_dir,
    read_manifest,
)
from detection.compile_cache import CompileCache
from detection.correlation_store import load_engine
from detection.loaded import RuleInfo
from detection.loader import LastGood, snapshot
from detection.management import (
    ENGINE_COST,
    Explanation,
    RuleWatcher,
    configured_rule_paths,
    convert_to_lucene,
    coverage_summary,
    explain,
    rule_states,
    set_enabled,
    store_lucene,
)
from detection.rulepack import evaluate
from detection.rulesets import (
    RuleSet,
    check_rules,
    list_rules,
    load_rules,
    not_run,
)
from detection.scheduled import check_modes, mode_of
from detection.stream import ids_of, load_detector, process_batch
from detection.triage import (
    AssigneeCheck,
    GroupBy,
    Grouping,
    QueueFilter,
    QueuePage,
    attack_context,
    build_query,
    bulk_update,
    open_count,
    read_alert,
    read_queue,
)
from detection.winlog import is_windows, raw_fields

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from core.clock import Clock
    from detection.rulepack import Detection

# What pages, commands, tasks and other domains call (tests/test_reachable_services.py).
__all__ = [
    "ENGINE_COST",
    "SHIPPED_RULES",
    "AssigneeCheck",
    "AttackCatalog",
    "AttackDataError",
    "CompileCache",
    "Explanation",
    "GroupBy",
    "Grouping",
    "LastGood",
    "QueueFilter",
    "QueuePage",
    "RuleInfo",
    "RulePackRun",
    "RuleSet",
    "RuleWatcher",
    "add_exception",
    "add_maintenance_window",
    "alert_candidate",
    "alert_fingerprint",
    "alert_tag_counts",
    "attack_context",
    "build_attack_bundle",
    "build_query",
    "bulk_update",
    "check_modes",
    "check_rules",
    "configured_rule_paths",
    "convert_to_lucene",
    "coverage_summary",
    "default_attack_dir",
    "deliver_alerts",
    "deliver_outbox",
    "dry_run",
    "edit_exception",
    "end_maintenance_window",
    "expire_exception",
    "explain",
    "get_attack_catalog",
    "ids_of",
    "is_windows_event",
    "list_exceptions",
    "list_maintenance_windows",
    "list_rules",
    "load_engine",
    "load_rules",
    "mode_of",
    "not_run",
    "open_count",
    "process_batch",
    "queue_platform_alert",
    "raise_alerts",
    "read_alert",
    "read_manifest",
    "read_queue",
    "rule_states",
    "run_rule_pack",
    "set_enabled",
    "snapshot",
    "store_lucene",
    "windows_raw_fields",
]

# The Windows mapping, for callers outside detection (`dijkwacht detect`).
is_windows_event = is_windows
windows_raw_fields = raw_fields


def alert_tag_counts(
    *, alert_store: AlertStore, since: datetime, until: datetime, page_size: int = 500
) -> dict[str, int]:
    """How often each rule tag (e.g. ``attack.t1566``) appeared on real alerts in a period.

    For trend readers such as awareness: only lower-cased tags and counts leave detection, never
    an alert, host, user or event; drill alerts are left out.
    """
    counts: dict[str, int] = {}
    offset = 0
    while True:
        page = alert_store.search(
            AlertQuery(
                start=since,
                end=until,
                exercise=False,
                limit=page_size,
                offset=offset,
                sort="oldest",
            )
        )
        for alert in page:
            tags = alert.body.get("tags") or ()
            for tag in {str(tag).lower() for tag in tags if isinstance(tag, str)}:
                counts[tag] = counts.get(tag, 0) + 1
        if len(page) < page_size:
            return counts
        offset += page_size


SHIPPED_RULES = Path(__file__).resolve().parent / "rules"


@dataclass(frozen=True)
class RuleDryRun:
    """Which alerting rules exist and which of them fire on a list of events (no stores)."""

    known: dict[str, str]  # rule id -> title, alerting rules and correlations
    fired: frozenset[str]
    problems: tuple[str, ...] = ()


def dry_run(
    *, events: Sequence[Mapping[str, Any]], paths: Sequence[Path] = (SHIPPED_RULES,)
) -> RuleDryRun:
    """Run the rule pack over `events` in memory, as the stream would (for drill checks)."""
    detector = load_detector(paths=list(paths))
    known = {
        r.rule_id: r.title for r in detector.ruleset.rules if r.rule_id not in detector.silenced
    }
    known.update({c.rule_id: c.title for c in detector.correlations})
    pairs = [(f"e{index}", event) for index, event in enumerate(events)]
    fired = {d.rule_id for d in evaluate(detector=detector, events_with_ids=pairs)}
    problems = (*detector.problems, *(str(p) for p in detector.ruleset.problems))
    return RuleDryRun(known=known, fired=frozenset(fired), problems=problems)


@dataclass(frozen=True)
class RulePackRun:
    """The rule pack over a finite list of identified events: every would-be alert, before dedup,
    with each rule's dedup policy (None: every match alerts) and the title of every rule."""

    detections: list[Detection]
    policies: dict[str, DedupPolicy | None]
    titles: dict[str, str]


def run_rule_pack(
    *,
    events_with_ids: Sequence[tuple[str, Mapping[str, Any]]],
    paths: Sequence[Path] = (SHIPPED_RULES,),
) -> RulePackRun:
    """Run the rule pack over `(id, event)` pairs in memory, as the stream would, naming the
    events of each detection (for the demo world's scoring of seeded scenarios)."""
    detector = load_detector(paths=list(paths))
    titles = {r.rule_id: r.title for r in detector.ruleset.rules}
    titles.update({c.rule_id: c.title for c in detector.correlations})
    detections = evaluate(detector=detector, events_with_ids=events_with_ids)
    return RulePackRun(detections, detector.policies(), titles)


# -- alert exceptions and maintenance windows (detection/exceptions.py) ------------------------
from detection.exceptions import (  # noqa: E402 - the facade other packages call
    add_exception,
    add_maintenance_window,
    edit_exception,
    end_maintenance_window,
    expire_exception,
    list_exceptions,
    list_maintenance_windows,
)

# -- alerts raised outside the Sigma matcher (threat-intel matches) ---------------------------


def raise_alerts(
    *,
    db: Session,
    clock: Clock,
    candidates: Sequence[Candidate],
    attack: AttackResolver | None = None,
) -> int:
    """Queue `detection.alerts.Candidate`s built by another domain (threat-intel indicator
    matches) through the same exceptions, maintenance windows and outbox dedup as rule alerts;
    in the caller's unit, never commits. Returns how many new alerts were queued; deliver them
    with `deliver_alerts` in a later unit."""
    decisions = decide(
        db=db,
        clock=clock,
        candidates=candidates,
        policies={},
        attack=attack or AttackResolver(),
    )
    return decisions.new


def deliver_alerts(*, db: Session, alert_store: AlertStore, clock: Clock) -> list[str]:
    """Store the queued alerts in the alert store (``detection.alerts.deliver_outbox``)."""

    return deliver_outbox(db=db, alert_store=alert_store, clock=clock)


def alert_candidate(**fields: Any) -> Candidate:
    """A `detection.alerts.Candidate` (for `raise_alerts`), and its fingerprint helper."""
    return Candidate(**fields)


def alert_fingerprint(*parts: Any) -> str:
    return fingerprint(*parts)
