"""The scale-out event store: daily Elasticsearch indices with ECS mappings behind one alias.

Layout (prefix `dijkwacht` by default):
- `<prefix>-events-YYYY.MM.DD`: one index per UTC day of the event's `@timestamp`. An index
  template gives each new day its ECS mappings and puts it behind the read alias
  `<prefix>-events`, which every search uses. The day is derived from the event itself rather
  than from a rolling write alias, so a redelivered event (same id) lands in the same index and
  its `create` is refused as a duplicate: ingest is idempotent across restarts and midnight.
- `<prefix>-dead-letters`: input that never became an event, and documents Elasticsearch refused
  in a bulk request (with the refusal as the reason).

Each stored document is the event plus `event.ingested` (the ECS ingest time, set here; the
scheduled searches of detection read it) and a `dijkwacht.id` copy of the document id (a sort
tie-breaker; `_id` cannot be sorted on), added next to the event's own `dijkwacht.*` fields
(drill marking, subject, case), which are kept; `dijkwacht.id` is removed again on read.

Writes use `refresh=False` by default (throughput); `refresh="wait_for"` gives read-your-writes
for callers that need it. Bulk requests retry 429s with jittered exponential back-off.
"""

from __future__ import annotations

import base64
import itertools
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from core.clock import Clock, SystemClock
from core.errors import NotFoundError, ValidationError
from core.events import Event, get_field, validate_event
from core.store import es_common
from core.store.base import (
    EPOCH,
    MAX_DEAD_LETTER_BYTES,
    MAX_REASON_CHARS,
    MAX_RESULT_WINDOW,
    DeadLetter,
    DeadLetterCount,
    EventQuery,
    InvalidEventError,
    StoredEvent,
    check_counts_by,
    check_dead_letter_listing,
    check_event_page,
    check_event_query,
    check_slices,
)

ONE_MICROSECOND = timedelta(microseconds=1)
_OWN_ID = re.compile(r"[0-9a-f]{26}")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]{0,40}")
_DEAD_LETTER_SEQ = itertools.count()


class ElasticsearchEventStore(es_common.ClientOwner):
    """`EventStore` on Elasticsearch; see the module docstring for the index layout."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = es_common.DEFAULT_PREFIX,
        clock: Clock | None = None,
        refresh: bool | str = False,
        retry: es_common.RetryPolicy | None = None,
        chunk_size: int = 2000,
    ) -> None:
        if not _PREFIX.fullmatch(prefix):
            raise ValidationError("prefix", f"{prefix!r} is not a valid index prefix")
        self.client = client
        self.prefix = prefix
        self.alias = f"{prefix}-events"
        self.dead_letter_index = f"{prefix}-dead-letters"
        self._clock = clock or SystemClock()
        self._refresh = refresh
        self._retry = retry or es_common.RetryPolicy()
        self._chunk_size = chunk_size
        self._ensure_templates()

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> ElasticsearchEventStore:
        """Connect to `url` and install the templates; the store owns (and closes) the client."""
        return cls(es_common.connect(url), **kwargs)

    def _ensure_templates(self) -> None:
        es_common.ensure_template(
            self.client,
            name=f"{self.prefix}-events",
            body={
                "index_patterns": [f"{self.alias}-*"],
                "priority": 200,
                "template": {
                    "settings": es_common.index_settings(),
                    "mappings": es_common.event_mappings(
                        {"dijkwacht": {"properties": {"id": {"type": "keyword"}}}}
                    ),
                    "aliases": {self.alias: {}},
                },
            },
        )
        es_common.ensure_template(
            self.client,
            name=f"{self.prefix}-dead-letters",
            body={
                "index_patterns": [self.dead_letter_index],
                "priority": 200,
                "template": {
                    "settings": es_common.index_settings(),
                    "mappings": {
                        "dynamic": "strict",
                        "properties": {
                            "seq": {"type": "long"},
                            "source": {"type": "keyword"},
                            "reason": {"type": "text"},
                            "offset": {"type": "long"},
                            "raw": {"type": "binary"},
                            "raw_length": {"type": "long"},
                            "received_at": {"type": "date"},
                        },
                    },
                },
            },
        )

    def index_for(self, timestamp_micros: int) -> str:
        """The daily index that holds events of this time."""
        day = EPOCH + timedelta(microseconds=timestamp_micros)
        return f"{self.alias}-{day:%Y.%m.%d}"

    # -- writing -------------------------------------------------------------------------------

    def add_batch(self, events: Sequence[Event]) -> list[str]:
        """Validate all, then bulk-index; return ids in order.

        Documents Elasticsearch refuses (a mapping conflict, say) are dead-lettered with its
        reason and their ids are still returned: the batch is acknowledged as a whole and
        nothing is lost. Raises `StoreUnavailableError` when the cluster keeps refusing.
        """
        if not events:
            return []
        ids, actions = self._actions(events)
        failures: list[es_common.BulkFailure] = []
        for start in range(0, len(actions), self._chunk_size):
            chunk = actions[start : start + self._chunk_size]
            failures.extend(
                es_common.BulkFailure(start + f.position, f.status, f.reason)
                for f in es_common.bulk(
                    self.client, chunk, refresh=self._refresh, policy=self._retry
                )
            )
        if failures:
            self.add_dead_letters(
                DeadLetter(
                    source=f"elasticsearch:{self.alias}",
                    reason=f"event {ids[f.position]} refused (HTTP {f.status}): {f.reason}",
                    raw=actions[f.position][1] or b"",
                )
                for f in failures
            )
        return ids

    def _actions(self, events: Sequence[Event]) -> tuple[list[str], list[tuple[bytes, bytes]]]:
        """Ids and bulk lines; the hot path of ingest, kept flat like the SQLite store's."""
        randomness = os.urandom(6 * len(events)).hex()
        ingested = es_common.iso(self._clock.now(), field="clock")
        dumps = orjson.dumps
        fromiso = datetime.fromisoformat
        ids: list[str] = []
        actions: list[tuple[bytes, bytes]] = []
        for index, event in enumerate(events):
            try:
                validate_event(event)
                ts = (fromiso(get_field(event, "@timestamp")) - EPOCH) // ONE_MICROSECOND
                if ts < 0:
                    raise ValidationError("@timestamp", "must not be before 1970-01-01")
                head = event.get("event")
                own = head.get("id") if type(head) is dict else None
                event_id = (
                    own
                    if type(own) is str and _OWN_ID.fullmatch(own)
                    else f"{ts:014x}{randomness[12 * index : 12 * index + 12]}"
                )
                document = dict(event)
                document["event"] = {**(head if type(head) is dict else {}), "ingested": ingested}
                extension = event.get("dijkwacht", {})
                if type(extension) is not dict:
                    raise ValidationError("dijkwacht", "must be an object (the dijkwacht.* fields)")
                document["dijkwacht"] = {**extension, "id": event_id}
                source = dumps(document)
            except ValidationError as exc:
                raise InvalidEventError(index, exc.field, exc.problem) from None
            except (orjson.JSONEncodeError, TypeError) as exc:
                raise InvalidEventError(
                    index, "event", f"cannot be stored as JSON: {exc}"
                ) from None
            ids.append(event_id)
            meta = {"create": {"_index": self.index_for(ts), "_id": event_id}}
            actions.append((dumps(meta), source))
        return ids, actions

    def add_dead_letters(self, letters: Iterable[DeadLetter]) -> None:
        """Keep unparseable or refused input with its reason; raw bytes cut at 64 KiB."""
        now = es_common.iso(self._clock.now(), field="clock")
        base = time.time_ns() // 1000 * 1000
        actions: list[tuple[bytes, bytes | None]] = []
        for letter in letters:
            raw = bytes(letter.raw)
            doc = {
                "seq": base + next(_DEAD_LETTER_SEQ) % 1000,
                "source": letter.source,
                "reason": letter.reason[:MAX_REASON_CHARS],
                "offset": letter.offset,
                "raw": base64.b64encode(raw[:MAX_DEAD_LETTER_BYTES]).decode(),
                "raw_length": letter.raw_length if letter.raw_length is not None else len(raw),
                "received_at": now
                if letter.received_at is None
                else es_common.iso(letter.received_at, field="received_at"),
            }
            meta = orjson.dumps({"index": {"_index": self.dead_letter_index}})
            actions.append((meta, orjson.dumps(doc)))
        if not actions:
            return
        refused = es_common.bulk(
            self.client, actions, refresh=self._refresh or "wait_for", policy=self._retry
        )
        if refused:
            # The dead-letter index is strict and ours: a refusal here is a bug, not bad input.
            raise es_common.StoreUnavailableError(
                f"{len(refused)} dead letter(s) refused: {refused[0].reason}"
            )

    # -- reading -------------------------------------------------------------------------------

    def search(self, query: EventQuery) -> list[StoredEvent]:
        """Matching events by time (ties by id), one page; from + size stays under 10,000."""
        check_event_page(query, window=MAX_RESULT_WINDOW)
        response = self.client.search(
            index=self.alias,
            query=es_query(query),
            sort=[{"@timestamp": query.order}, {"dijkwacht.id": query.order}],
            size=query.limit,
            from_=query.offset,
            track_total_hits=False,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return [_stored(hit) for hit in response["hits"]["hits"]]

    def count(self, query: EventQuery, *, cap: int | None = None) -> int:
        """Number of matching events, up to `cap` when given; limit and offset are ignored."""
        if cap is None:
            response = self.client.count(
                index=self.alias,
                query=es_query(query),
                ignore_unavailable=True,
                allow_no_indices=True,
            )
            return int(response["count"])
        # Exact up to `cap` (then "gte"), as Kibana's hit count: no shard counts further.
        found = self.client.search(
            index=self.alias,
            query=es_query(query),
            size=0,
            track_total_hits=max(cap, 0),
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return min(int(found["hits"]["total"]["value"]), max(cap, 0))

    def count_slices(
        self, query: EventQuery, *, start: datetime, step: timedelta, buckets: int
    ) -> list[int]:
        """Matches per slice in one request: a range aggregation with one range per slice."""
        check_slices(start=start, step=step, buckets=buckets)
        ranges = [
            {
                "from": es_common.iso(start + step * i, field="start"),
                "to": es_common.iso(start + step * (i + 1), field="start"),
            }
            for i in range(buckets)
        ]
        response = self.client.search(
            index=self.alias,
            query=es_query(query),
            size=0,
            aggs={"slices": {"range": {"field": "@timestamp", "ranges": ranges}}},
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        found = response.get("aggregations", {}).get("slices", {}).get("buckets", [])
        return [int(b["doc_count"]) for b in found] if found else [0] * buckets

    def counts_by(
        self, field: str, query: EventQuery | None = None, *, limit: int = 20
    ) -> list[tuple[Any, int]]:
        """(value, count) of a field over matching events, most frequent first (dashboards)."""
        check_counts_by(field, limit=limit)
        response = self.client.search(
            index=self.alias,
            query=es_query(query or EventQuery()),
            size=0,
            aggs={"by": {"terms": {"field": field, "size": limit}}},
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        buckets = response.get("aggregations", {}).get("by", {}).get("buckets", [])
        return [(b.get("key_as_string", b["key"]), int(b["doc_count"])) for b in buckets]

    def get(self, event_id: str) -> StoredEvent:
        response = self.client.search(
            index=self.alias,
            query={"ids": {"values": [event_id]}},
            size=1,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = response["hits"]["hits"]
        if not hits:
            raise NotFoundError(f"event {event_id!r} not found")
        return _stored(hits[0])

    def list_dead_letters(self, *, source: str | None = None, limit: int = 100) -> list[DeadLetter]:
        """Dead letters oldest first, so reprocessing sees them in arrival order."""
        check_dead_letter_listing(limit=limit)
        query: dict[str, Any] = (
            {"term": {"source": source}} if source is not None else {"match_all": {}}
        )
        response = self.client.search(
            index=self.dead_letter_index,
            query=query,
            sort=[{"seq": "asc"}],
            size=limit,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        return [_dead_letter(hit["_source"]) for hit in response["hits"]["hits"]]

    def dead_letter_counts(self) -> list[DeadLetterCount]:
        """Dead letters per source, most first (a terms aggregation; 1,000 sources at most)."""
        response = self.client.search(
            index=self.dead_letter_index,
            size=0,
            aggs={
                "by": {
                    "terms": {"field": "source", "size": 1000},
                    "aggs": {"newest": {"max": {"field": "received_at"}}},
                }
            },
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        buckets = response.get("aggregations", {}).get("by", {}).get("buckets", [])
        return [
            DeadLetterCount(
                str(bucket["key"]),
                int(bucket["doc_count"]),
                datetime.fromtimestamp(bucket["newest"]["value"] / 1000, tz=UTC)
                if bucket["newest"].get("value") is not None
                else None,
            )
            for bucket in buckets
        ]

    def delete_dead_letters(self, ids: Sequence[int]) -> int:
        """Remove dead letters that were replayed successfully; return how many were removed."""
        if not ids:
            return 0
        # Search, then delete by _id: the integ-test distribution has no delete-by-query.
        response = self.client.search(
            index=self.dead_letter_index,
            query={"terms": {"seq": [int(i) for i in ids]}},
            size=len(ids),
            source=False,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        actions: list[tuple[bytes, bytes | None]] = [
            (orjson.dumps({"delete": {"_index": hit["_index"], "_id": hit["_id"]}}), None)
            for hit in response["hits"]["hits"]
        ]
        if not actions:
            return 0
        refused = es_common.bulk(
            self.client, actions, refresh=self._refresh or "wait_for", policy=self._retry
        )
        return len(actions) - len(refused)

    def refresh(self) -> None:
        """Make every write so far visible to search (tests, benchmarks, scheduled searches)."""
        self.client.indices.refresh(
            index=f"{self.alias}*,{self.dead_letter_index}", ignore_unavailable=True
        )

    def delete_by_exercise(self, exercise_id: str) -> int:
        """Remove a drill's documents: search then bulk delete by _id, page by page."""
        return es_common.delete_exercise(
            self.client,
            index=self.alias,
            field="dijkwacht.exercise.id",
            exercise_id=exercise_id,
            policy=self._retry,
        )


def es_query(query: EventQuery, *, time_field: str = "@timestamp") -> dict[str, Any]:
    """The bool query for an `EventQuery`: filters are exact terms, text is all-words phrases."""
    check_event_query(query)
    clauses: list[dict[str, Any]] = []
    absent: list[dict[str, Any]] = []
    span: dict[str, str] = {}
    if query.start is not None:
        span["gte"] = es_common.iso(query.start, field="start")
    if query.end is not None:
        span["lt"] = es_common.iso(query.end, field="end")
    if span:
        clauses.append({"range": {time_field: span}})
    for path, value in query.filters.items():
        if value is None:
            absent.append({"exists": {"field": path}})
            continue
        if isinstance(value, list | tuple | set | frozenset):
            clauses.append({"terms": {path: list(value)}})
        else:
            clauses.append({"term": {path: value}})
    for path, value in query.exclude.items():
        values = list(value) if isinstance(value, list | tuple | set | frozenset) else [value]
        absent.append({"terms": {path: values}})
    if query.text is not None:
        # Every word must occur; each word is a phrase, so `10.0.0.5` or `C:\Windows` match as
        # written and no query syntax from the analyst is interpreted.
        clauses.extend(
            {"match_phrase": {"event.original": word}} for word in query.text.split() if word
        )
    if not clauses and not absent:
        return {"match_all": {}}
    return {"bool": {"filter": clauses, "must_not": absent}}


def _stored(hit: Mapping[str, Any]) -> StoredEvent:
    """The event as it was given: the store's `dijkwacht.id` goes, the event's own
    `dijkwacht.*` fields (drill marking, subject, case) stay."""
    event = dict(hit["_source"])
    extension = {k: v for k, v in event.pop("dijkwacht", {}).items() if k != "id"}
    if extension:
        event["dijkwacht"] = extension
    return StoredEvent(id=hit["_id"], event=event)


def _dead_letter(source: Mapping[str, Any]) -> DeadLetter:
    return DeadLetter(
        id=int(source["seq"]),
        source=source["source"],
        reason=source["reason"],
        offset=source.get("offset"),
        raw=base64.b64decode(source["raw"]),
        raw_length=int(source["raw_length"]),
        received_at=datetime.fromisoformat(source["received_at"]),
    )
