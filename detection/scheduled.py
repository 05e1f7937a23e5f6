"""Detection at scale: Sigma rules as scheduled searches over the Elasticsearch event indices.

Rules are converted to Lucene by pySigma's Elasticsearch backend under a pipeline stack (for
ECS data `ecs_windows`; for raw Windows fields the streaming stacks). Each rule is parsed again
per stack because pySigma's pipelines mutate the rule objects they process.

Runs are windowed by ingest time (`event.ingested`, set by the event store at write), not event
time, so an event that arrives late is still searched. Per rule, a run searches
`[checkpoint - lookback, now - settle)`: `settle` leaves time for Elasticsearch's refresh, and
the look-back searches again what an earlier run may have missed (a bulk retried past the
window, clock skew between writers). Events seen twice are alerted once: each (rule, event)
pair is claimed with a `create` of a deterministic id in `<prefix>-detection-seen`, which
Elasticsearch refuses the second time. A run raises at most `max_alerts` alerts per rule; it
then moves the checkpoint only up to the last event it alerted on, so the rest come next run
(no gap). Checkpoints live in `<prefix>-detection-state`.

Which rules run here and which stream is the `detection_modes` setting (`mode_of`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from core.config import Settings
from core.store import es_common
from core.store.base import NewAlert

DEFAULT_LEVEL = "medium"
_LEVELS = {"informational", "low", "medium", "high", "critical"}


@dataclass(frozen=True, slots=True)
class ScheduledRule:
    """One rule as a Lucene query under one stack."""

    rule_id: str
    title: str
    level: str
    stack: str
    query: str


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
    *, paths: Iterable[Path], stacks: Sequence[str]
) -> tuple[list[ScheduledRule], list[Unconvertible]]:
    """Lucene queries for every rule under each stack; what cannot convert is listed, not lost."""
    from sigma.backends.elasticsearch import LuceneBackend
    from sigma.exceptions import SigmaError

    from detection.loader import parse_sources, read_sources
    from detection.pipelines import resolve_stack

    sources, _problems = read_sources(list(paths))
    rules: list[ScheduledRule] = []
    failed: list[Unconvertible] = []
    for stack in stacks:
        backend = LuceneBackend(processing_pipeline=resolve_stack(stack))
        for rule in parse_sources(sources).rules:  # fresh objects per stack
            rule_id = str(rule.id or rule.title)
            level = str(rule.level.name).lower() if rule.level else DEFAULT_LEVEL
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
                    )
                )
    return rules, failed


class ScheduledSearch:
    """Runs converted rules over `<prefix>-events` with checkpoints; see the module docstring."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str,
        lookback: timedelta = timedelta(minutes=5),
        settle: timedelta = timedelta(seconds=2),
        max_alerts: int = 100,
    ) -> None:
        self.client = client
        self.events = f"{prefix}-events"
        self.state_index = f"{prefix}-detection-state"
        self.seen_index = f"{prefix}-detection-seen"
        self.lookback, self.settle, self.max_alerts = lookback, settle, max_alerts
        for index in (self.state_index, self.seen_index):
            es_common.ensure_index(self.client, index=index)

    def checkpoint(self, rule: ScheduledRule) -> datetime | None:
        """Ingest time up to which this rule has been searched (None: never ran)."""
        from elasticsearch import NotFoundError as ESNotFoundError

        try:
            doc = self.client.get(index=self.state_index, id=_key(rule))
        except ESNotFoundError:
            return None
        return datetime.fromisoformat(doc["_source"]["checkpoint"])

    def run(
        self, rules: Sequence[ScheduledRule], *, now: datetime, first_start: datetime
    ) -> list[NewAlert]:
        """One scheduled run of every rule; returns the new alerts (the caller stores them)."""
        alerts: list[NewAlert] = []
        for rule in rules:
            alerts.extend(self._run_rule(rule, now=now, first_start=first_start))
        return alerts

    def _run_rule(
        self, rule: ScheduledRule, *, now: datetime, first_start: datetime
    ) -> list[NewAlert]:
        done = self.checkpoint(rule)
        start = first_start if done is None else done - self.lookback
        end = now - self.settle
        if end <= start:
            return []
        alerts: list[NewAlert] = []
        reached = end
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
                size=500,
                search_after=search_after,
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            hits = response["hits"]["hits"]
            for hit in hits:
                if not self._claim(rule, hit["_id"]):
                    continue  # alerted in an earlier run (look-back overlap)
                alerts.append(_alert(rule, hit))
                if len(alerts) >= self.max_alerts:
                    # Cap reached: resume after this event next run; nothing in between is lost.
                    reached = datetime.fromisoformat(hit["_source"]["event"]["ingested"])
                    self._save(rule, reached + self.lookback)
                    return alerts
            if len(hits) < 500:
                break
            search_after = hits[-1]["sort"]
        self._save(rule, reached)
        return alerts

    def _claim(self, rule: ScheduledRule, event_id: str) -> bool:
        from elasticsearch import ConflictError as ESConflictError

        key = hashlib.sha256(f"{rule.rule_id}\0{event_id}".encode()).hexdigest()
        try:
            self.client.create(
                index=self.seen_index, id=key, document={"rule_id": rule.rule_id}, refresh=False
            )
        except ESConflictError:
            return False
        return True

    def _save(self, rule: ScheduledRule, checkpoint: datetime) -> None:
        # Stored as "checkpoint + lookback" when capped, so the next start (checkpoint -
        # lookback) is exactly the last alerted event: the overlap is de-duplicated by _claim.
        self.client.index(
            index=self.state_index,
            id=_key(rule),
            document={"rule_id": rule.rule_id, "checkpoint": checkpoint.isoformat()},
            refresh="wait_for",
        )


def _key(rule: ScheduledRule) -> str:
    return hashlib.sha256(f"{rule.rule_id}\0{rule.stack}\0{rule.query}".encode()).hexdigest()


def _alert(rule: ScheduledRule, hit: dict[str, Any]) -> NewAlert:
    source = hit["_source"]
    host = source.get("host", {}) if isinstance(source.get("host"), dict) else {}
    user = source.get("user", {}) if isinstance(source.get("user"), dict) else {}
    return NewAlert(
        rule_id=rule.rule_id,
        rule_title=rule.title,
        level=rule.level,  # type: ignore[arg-type]
        created_at=datetime.fromisoformat(source["@timestamp"]),
        host_name=host.get("name"),
        user_name=user.get("name"),
        body={
            "events": [hit["_id"]],
            "mode": "scheduled",
            "stack": rule.stack,
            "query": orjson.loads(orjson.dumps(rule.query)),
        },
    )
