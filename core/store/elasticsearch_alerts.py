"""The scale-out alert store: the analyst's queue in one Elasticsearch index behind an alias.

Alerts are few next to events and are updated (status, assignee), so they live in one index,
`<prefix>-alerts-000001`, reached through the alias `<prefix>-alerts`; growing past one index is
a matter of rolling the alias over. The alert body is stored, not indexed (`enabled: false`):
the queue filters on the top-level columns only, as the SQLite store does.

Writes wait for a refresh (`refresh="wait_for"`) by default: an analyst who acknowledges an
alert and reloads the queue must see the change. `update_status` checks every id before it
changes any, so unknown ids raise and change nothing (Elasticsearch has no multi-document
transaction; two analysts updating the same alert at once is last-writer-wins, as in SQLite).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.clock import Clock, SystemClock
from core.errors import NotFoundError, ValidationError
from core.store import es_common
from core.store.base import (
    ALERT_LEVELS,
    EPOCH,
    MAX_RESULT_WINDOW,
    AlertQuery,
    AlertStatus,
    NewAlert,
    StoredAlert,
    check_alert_page,
    check_alert_query,
    check_new_alert,
    check_slices,
    status_change_ids,
)

_LEVEL_RANK = {level: rank for rank, level in enumerate(ALERT_LEVELS)}
_KEYWORDS = ("id", "rule_id", "rule_title", "level", "status", "assignee", "host_name")
_TIME_FIELD = {"created": "created_at", "event": "first_event_at"}
_SORT: dict[str, list[tuple[str, str]]] = {
    "newest": [("{t}", "desc"), ("id", "desc")],
    "oldest": [("{t}", "asc"), ("id", "asc")],
    "severity": [("level_rank", "desc"), ("{t}", "desc"), ("id", "desc")],
}
# Added in schema version 3 of the alert stores; put on existing indices when opened.
_EVENT_TIMES = {"first_event_at": {"type": "date_nanos"}, "last_event_at": {"type": "date_nanos"}}


class ElasticsearchAlertStore(es_common.ClientOwner):
    """`AlertStore` on Elasticsearch; see the module docstring for the layout and refresh."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = es_common.DEFAULT_PREFIX,
        clock: Clock | None = None,
        refresh: bool | str = "wait_for",
        retry: es_common.RetryPolicy | None = None,
    ) -> None:
        self.client = client
        self.alias = f"{prefix}-alerts"
        self._clock = clock or SystemClock()
        self._refresh = refresh
        self._retry = retry or es_common.RetryPolicy()
        properties: dict[str, Any] = {name: {"type": "keyword"} for name in _KEYWORDS}
        properties.update(
            user_name={"type": "keyword"},
            exercise_id={"type": "keyword"},
            level_rank={"type": "integer"},
            created_at={"type": "date_nanos"},
            updated_at={"type": "date_nanos"},
            body={"type": "object", "enabled": False},
            **_EVENT_TIMES,
        )
        es_common.ensure_template(
            client,
            name=self.alias,
            body={
                "index_patterns": [f"{self.alias}-*"],
                "priority": 200,
                "template": {
                    "settings": es_common.index_settings(),
                    "mappings": {"dynamic": "strict", "properties": properties},
                },
            },
        )
        es_common.ensure_index(
            client, index=f"{self.alias}-000001", aliases={self.alias: {"is_write_index": True}}
        )
        client.indices.put_mapping(index=self.alias, properties=_EVENT_TIMES)

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> ElasticsearchAlertStore:
        """Connect to `url` and create the index; the store owns (and closes) the client."""
        return cls(es_common.connect(url), **kwargs)

    def add_batch(self, alerts: Sequence[NewAlert]) -> list[str]:
        """Validate all, then index all; return the new ids in order."""
        if not alerts:
            return []
        now = es_common.iso(self._clock.now(), field="clock")
        randomness = os.urandom(6 * len(alerts)).hex()
        ids: list[str] = []
        actions: list[tuple[bytes, bytes | None]] = []
        for index, alert in enumerate(alerts):
            check_new_alert(index, alert)
            created = (alert.created_at - EPOCH) // timedelta(microseconds=1)
            alert_id = f"{created:014x}{randomness[12 * index : 12 * index + 12]}"
            try:
                body = orjson.dumps(
                    {
                        "id": alert_id,
                        "created_at": es_common.iso(alert.created_at, field="created_at"),
                        "updated_at": now,
                        "rule_id": alert.rule_id,
                        "rule_title": alert.rule_title,
                        "level": alert.level,
                        "level_rank": _LEVEL_RANK[alert.level],
                        "status": alert.status,
                        "assignee": alert.assignee,
                        "host_name": alert.host_name,
                        "user_name": alert.user_name,
                        "exercise_id": alert.exercise_id,
                        "body": dict(alert.body),
                        **_event_times(index, alert),
                    }
                )
            except (orjson.JSONEncodeError, TypeError) as exc:
                raise ValidationError(f"alerts[{index}].body", f"not JSON: {exc}") from None
            ids.append(alert_id)
            actions.append(
                (orjson.dumps({"create": {"_index": self.alias, "_id": alert_id}}), body)
            )
        refused = es_common.bulk(self.client, actions, refresh=self._refresh, policy=self._retry)
        if refused:
            # The mapping is strict and ours, so a refusal is a bug: fail loudly, keep nothing.
            raise es_common.StoreUnavailableError(
                f"{len(refused)} alert(s) refused by Elasticsearch: {refused[0].reason}"
            )
        return ids

    def search(self, query: AlertQuery) -> list[StoredAlert]:
        """One page of matching alerts in the requested order (ties by id)."""
        check_alert_page(query, window=MAX_RESULT_WINDOW)
        response = self.client.search(
            index=self.alias,
            query=_query(query),
            sort=_sort(query),
            size=query.limit,
            from_=query.offset,
            track_total_hits=False,
        )
        return [_stored(hit["_source"]) for hit in response["hits"]["hits"]]

    def count(self, query: AlertQuery, *, cap: int | None = None) -> int:
        if cap is None:
            return int(self.client.count(index=self.alias, query=_query(query))["count"])
        # terminate_after is per shard, so the sum can pass the cap: clamp it.
        found = self.client.count(index=self.alias, query=_query(query), terminate_after=cap)
        return min(int(found["count"]), cap)

    def count_slices(
        self, query: AlertQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> dict[str, list[int]]:
        """One search: a range bucket per slice (exact at any step), levels inside each."""
        check_slices(start=start, step=step, buckets=buckets)
        field = _time_field(query)
        ranges = [
            {
                "key": str(i),
                "from": es_common.iso(start + step * i, field="start"),
                "to": es_common.iso(start + step * (i + 1), field="start"),
            }
            for i in range(buckets)
        ]
        response = self.client.search(
            index=self.alias,
            query=_query(query),
            size=0,
            aggs={
                "slices": {
                    "range": {"field": field, "ranges": ranges, "keyed": True},
                    "aggs": {"levels": {"terms": {"field": "level", "size": len(ALERT_LEVELS)}}},
                }
            },
        )
        counts: dict[str, list[int]] = {level: [0] * buckets for level in ALERT_LEVELS}
        for key, bucket in response["aggregations"]["slices"]["buckets"].items():
            for level in bucket["levels"]["buckets"]:
                if level["key"] in counts:
                    counts[level["key"]][int(key)] = int(level["doc_count"])
        return counts

    def get(self, alert_id: str) -> StoredAlert:
        response = self.client.search(
            index=self.alias, query={"ids": {"values": [alert_id]}}, size=1
        )
        hits = response["hits"]["hits"]
        if not hits:
            raise NotFoundError(f"alert {alert_id!r} not found")
        return _stored(hits[0]["_source"])

    def update_status(
        self, ids: Sequence[str], *, status: AlertStatus, assignee: str | None = None
    ) -> int:
        """Set status (and assignee) of all ids; unknown ids change nothing and raise."""
        unique = status_change_ids(ids, status=status, assignee=assignee)
        if not unique:
            return 0
        found = self._indices_of(unique)
        missing = [alert_id for alert_id in unique if alert_id not in found]
        if missing:
            shown = ", ".join(repr(alert_id) for alert_id in missing[:5])
            raise NotFoundError(f"{len(missing)} alert(s) not found: {shown}")
        change: dict[str, Any] = {
            "status": status,
            "updated_at": es_common.iso(self._clock.now(), field="clock"),
        }
        if assignee is not None:
            change["assignee"] = assignee
        doc = orjson.dumps({"doc": change})
        actions: list[tuple[bytes, bytes | None]] = [
            (orjson.dumps({"update": {"_index": found[alert_id], "_id": alert_id}}), doc)
            for alert_id in unique
        ]
        refused = es_common.bulk(self.client, actions, refresh=self._refresh, policy=self._retry)
        if refused:
            raise es_common.StoreUnavailableError(
                f"{len(refused)} alert update(s) refused: {refused[0].reason}"
            )
        return len(unique)

    def merge_body(self, alert_id: str, updates: Mapping[str, Any]) -> None:
        """Set top-level body keys of one alert; optimistic concurrency, retried on conflict."""
        from elasticsearch import ConflictError as ESConflictError  # noqa: PLC0415 - elasticsearch client: +226 ms

        try:
            patch = orjson.loads(orjson.dumps(dict(updates)))
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise ValidationError("updates", f"not JSON: {exc}") from None
        for _attempt in range(10):
            response = self.client.search(
                index=self.alias,
                query={"ids": {"values": [alert_id]}},
                size=1,
                seq_no_primary_term=True,
            )
            hits = response["hits"]["hits"]
            if not hits:
                raise NotFoundError(f"alert {alert_id!r} not found")
            hit = hits[0]
            source = dict(hit["_source"])
            source["body"] = (source.get("body") or {}) | patch
            last = _body_time(patch.get("last_seen"))
            if last is not None and _newer(last, source.get("last_event_at")):
                source["last_event_at"] = es_common.iso(last, field="last_seen")
            source["updated_at"] = es_common.iso(self._clock.now(), field="clock")
            try:
                self.client.index(
                    index=hit["_index"],
                    id=alert_id,
                    document=source,
                    if_seq_no=hit["_seq_no"],
                    if_primary_term=hit["_primary_term"],
                    refresh=self._refresh,
                )
                return
            except ESConflictError:
                continue  # another writer changed it in between: read again and re-apply
        raise es_common.StoreUnavailableError(f"alert {alert_id!r}: too many concurrent updates")

    def _indices_of(self, ids: list[str]) -> dict[str, str]:
        """Concrete index of each existing id (updates must name the index, not the alias)."""
        found: dict[str, str] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            response = self.client.search(
                index=self.alias,
                query={"ids": {"values": chunk}},
                size=len(chunk),
                source=False,
            )
            found.update((hit["_id"], hit["_index"]) for hit in response["hits"]["hits"])
        return found

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove a drill's documents: search then bulk delete by _id, page by page."""
        return es_common.delete_exercise(
            self.client,
            index=self.alias,
            field="exercise_id",
            exercise_id=exercise_id,
            policy=self._retry,
        )


def _query(query: AlertQuery) -> dict[str, Any]:
    """Bool filter for an `AlertQuery`; values are terms, never query syntax."""
    check_alert_query(query)
    clauses: list[dict[str, Any]] = []
    must_not: list[dict[str, Any]] = []
    for name, values in (
        ("status", query.statuses),
        ("level", query.levels),
        ("rule_id", query.rule_ids),
    ):
        if values:
            clauses.append({"terms": {name: [values] if isinstance(values, str) else list(values)}})
    for name in ("host_name", "user_name", "assignee"):
        value = getattr(query, name)
        if value is not None:
            clauses.append({"term": {name: value}})
    if query.exercise is True:
        clauses.append({"exists": {"field": "exercise_id"}})
    elif query.exercise is False:
        must_not.append({"exists": {"field": "exercise_id"}})
    span: dict[str, str] = {}
    if query.start is not None:
        span["gte"] = es_common.iso(query.start, field="start")
    if query.end is not None:
        span["lt"] = es_common.iso(query.end, field="end")
    if span:
        clauses.append({"range": {_time_field(query): span}})
    return {"bool": {"filter": clauses, "must_not": must_not}}


def _time_field(query: AlertQuery) -> str:
    return _TIME_FIELD[query.time]  # checked by check_alert_query


def _sort(query: AlertQuery) -> list[dict[str, str]]:
    field = _time_field(query)
    return [{name.format(t=field): order} for name, order in _SORT[query.sort]]


def _body_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _newer(moment: datetime, stored: str | None) -> bool:
    return stored is None or moment > _time(stored)


def _event_times(index: int, alert: NewAlert) -> dict[str, str]:
    """First and last matching event time, as the SQLite store derives them."""
    first = alert.first_event_at or _body_time(alert.body.get("event_time")) or alert.created_at
    last = alert.last_event_at or _body_time(alert.body.get("last_seen")) or first
    return {
        "first_event_at": es_common.iso(first, field=f"alerts[{index}].first_event_at"),
        "last_event_at": es_common.iso(max(first, last), field=f"alerts[{index}].last_event_at"),
    }


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


def _stored(source: dict[str, Any]) -> StoredAlert:
    return StoredAlert(
        id=source["id"],
        created_at=_time(source["created_at"]),
        updated_at=_time(source["updated_at"]),
        rule_id=source["rule_id"],
        rule_title=source["rule_title"],
        level=source["level"],
        status=source["status"],
        assignee=source.get("assignee"),
        host_name=source.get("host_name"),
        user_name=source.get("user_name"),
        exercise_id=source.get("exercise_id"),
        body=source.get("body") or {},
        first_event_at=_time(source["first_event_at"]) if source.get("first_event_at") else None,
        last_event_at=_time(source["last_event_at"]) if source.get("last_event_at") else None,
    )
