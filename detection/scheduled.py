"""Detection at scale: Sigma rules as scheduled searches over the Elasticsearch event indices.

Rules are converted to Lucene by pySigma's Elasticsearch backend under a pipeline stack (for
ECS data `ecs_windows`; for raw Windows fields the streaming stacks). Each rule is parsed again
per stack because pySigma's pipelines mutate the rule objects they process.

Runs are windowed by ingest time (`event.ingested`, set by the event store at write), not event
time, so an event that arrives late is still searched. Per rule, a run searches
`[checkpoint - lookback, now - settle)`: `settle` leaves time for Elasticsearch's refresh, and
the look-back searches again what an earlier run may have missed (a bulk retried past the
window, clock skew between writers). This module only converts and searches; checkpoints,
dedup and alerts are `detection.scheduled_run`'s, in the relational database, so a run's
checkpoints and the alerts it decided commit together.

Which rules run here and which stream is the `detection_modes` setting (`mode_of`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sigma.backends.elasticsearch import LuceneBackend
from sigma.exceptions import SigmaError

from core.config import Settings
from core.errors import ConfigError
from detection.loader import parse_sources, read_sources
from detection.pipelines import resolve_stack

DEFAULT_LEVEL = "medium"
SETTLE = timedelta(seconds=2)  # Elasticsearch's refresh interval is 1 s
PAGE = 500
_LEVELS = {"informational", "low", "medium", "high", "critical"}


@dataclass(frozen=True, slots=True)
class ScheduledRule:
    """One rule as a Lucene query under one stack."""

    rule_id: str
    title: str
    level: str
    stack: str
    query: str
    tags: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        """Names this rule's checkpoint: a changed query starts afresh (from the look-back)."""
        return hashlib.sha256(f"{self.rule_id}\0{self.stack}\0{self.query}".encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Unconvertible:
    """A rule the Lucene conversion cannot express under a stack, and pySigma's reason."""

    rule_id: str
    stack: str
    reason: str


def mode_of(settings: Settings, rule_id: str) -> str:
    """ "streaming" or "scheduled" for this rule, from `detection_modes` and the default."""
    return settings.detection_modes.get(rule_id, settings.detection_default_mode)


def convert_rules(
    *, paths: Iterable[Path], stacks: Sequence[str], only: Collection[str] | None = None
) -> tuple[list[ScheduledRule], list[Unconvertible]]:
    """Lucene queries for every rule (or the ids in `only`) under each stack; what cannot
    convert is listed, not lost."""
    sources, _problems = read_sources(list(paths))
    rules: list[ScheduledRule] = []
    failed: list[Unconvertible] = []
    for stack in stacks:
        backend = LuceneBackend(processing_pipeline=resolve_stack(stack))
        for rule in parse_sources(sources).rules:  # fresh objects per stack
            rule_id = str(rule.id or rule.title)
            if only is not None and rule_id not in only:
                continue
            level = str(rule.level.name).lower() if rule.level else DEFAULT_LEVEL
            # pySigma returns no query for a rule a correlation references with `generate:
            # false`; the scheduled correlation needs exactly that query, so ask for it.
            rule._output = True
            try:
                queries = backend.convert_rule(rule)
            except (SigmaError, NotImplementedError, TypeError, ValueError) as exc:
                failed.append(Unconvertible(rule_id, stack, f"{type(exc).__name__}: {exc}"))
                continue
            for query in queries:
                rules.append(
                    ScheduledRule(
                        rule_id=rule_id,
                        title=str(rule.title),
                        level=level if level in _LEVELS else DEFAULT_LEVEL,
                        stack=stack,
                        query=str(query),
                        tags=tuple(str(tag) for tag in rule.tags),
                    )
                )
    return rules, failed


class ScheduledSearch:
    """Searches `<prefix>-events` for one rule's events by ingest time; see the module docstring."""

    def __init__(self, client: Any, *, prefix: str, settle: timedelta = SETTLE) -> None:
        self.client = client
        self.events = f"{prefix}-events"
        self.settle = settle

    def hits(
        self,
        rule: ScheduledRule,
        *,
        start: datetime,
        end: datetime,
        counted: Callable[[str], bool] | None = None,
        limit: int | None = None,
    ) -> tuple[list[dict[str, Any]], datetime]:
        """Events of `rule` ingested in `[start, end)`, oldest first, and how far that got.

        After `limit` hits whose id `counted` accepts (new alerts; default: every hit) the
        search stops and the second value is the ingest time of the last one (the rest come
        next run); otherwise it is `end`.
        """
        taken: list[dict[str, Any]] = []
        new = 0
        search_after: list[Any] | None = None
        while True:
            response = self.client.search(
                index=self.events,
                query={
                    "bool": {
                        "filter": [
                            {"query_string": {"query": rule.query, "analyze_wildcard": True}},
                            {
                                "range": {
                                    "event.ingested": {
                                        "gte": start.isoformat(),
                                        "lt": end.isoformat(),
                                    }
                                }
                            },
                        ]
                    }
                },
                sort=[{"event.ingested": "asc"}, {"dijkwacht.id": "asc"}],
                size=PAGE,
                search_after=search_after,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            page = response["hits"]["hits"]
            for hit in page:
                taken.append(hit)
                if counted is None or counted(hit["_id"]):
                    new += 1
                if limit is not None and new >= limit:
                    return taken, datetime.fromisoformat(hit["_source"]["event"]["ingested"])
            if len(page) < PAGE:
                return taken, end
            search_after = page[-1]["sort"]


def check_modes(settings: Settings) -> None:
    """Refuse "scheduled" mode without the Elasticsearch event store (nothing would run it)."""
    if settings.event_store == "elasticsearch":
        return
    named = sorted(rule for rule, mode in settings.detection_modes.items() if mode == "scheduled")
    if settings.detection_default_mode == "scheduled" or named:
        where = (
            'detection_default_mode is "scheduled"'
            if settings.detection_default_mode == "scheduled"
            else f'detection_modes sets "scheduled" for {", ".join(named)}'
        )
        raise ConfigError(
            f"{where}, but scheduled detection searches Elasticsearch and event_store is "
            f'{settings.event_store!r}: set event_store = "elasticsearch" or use '
            '"streaming" in detection_default_mode / detection_modes'
        )
