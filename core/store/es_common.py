"""What the Elasticsearch stores share: the client, ECS index templates and bulk with back-off.

Mappings: a curated subset of ECS (the field sets our collectors and detection emit) is mapped
with its ECS type, read from the ECS field list that ships in `core/store/ecs_fields.csv`.
Elasticsearch's integ-test distribution has no `mapper-extras` module, so `match_only_text`
becomes `text`, `wildcard`/`constant_keyword` become `keyword` and `scaled_float` `float`.
`event.original` is mapped as `text` (ECS keeps it unindexed) because free-text search runs on
it. Every other field is mapped dynamically as `keyword`: raw sources send the same field as a
number in one event and a string in the next, and a keyword takes both.
"""

from __future__ import annotations

import csv
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Self

import orjson

from core.errors import ConfigError, DijkwachtError
from core.store.base import check_exercise_id, require_timezone

# The index prefix of both stores unless the settings name another.
DEFAULT_PREFIX = "dijkwacht"


def iso(moment: datetime, *, field: str) -> str:
    """A time as Elasticsearch stores it: ISO 8601 in UTC; a naive time is refused."""
    return require_timezone(moment, field=field).astimezone(UTC).isoformat()


ECS_FIELDS_CSV = Path(__file__).resolve().parent / "ecs_fields.csv"
# Field sets we emit or search; the rest of ECS is left to the dynamic template.
MAPPED_FIELD_SETS = frozenset(
    {
        "base",
        "agent",
        "client",
        "destination",
        "dns",
        "error",
        "event",
        "file",
        "host",
        "http",
        "log",
        "network",
        "observer",
        "process",
        "registry",
        "related",
        "rule",
        "server",
        "service",
        "source",
        "url",
        "user",
        "user_agent",
    }
)
_TYPES = {
    "keyword": "keyword",
    "constant_keyword": "keyword",
    "wildcard": "keyword",
    "match_only_text": "text",
    "date": "date",
    "ip": "ip",
    "long": "long",
    "integer": "long",
    "float": "float",
    "scaled_float": "float",
    "double": "double",
    "boolean": "boolean",
}
KEYWORD_IGNORE_ABOVE = 1024
RETRY_STATUSES = frozenset({429, 502, 503, 504})


class StoreUnavailableError(DijkwachtError):
    """Elasticsearch did not accept a request after every retry; nothing was acknowledged."""


@dataclass(frozen=True, slots=True)
class BulkFailure:
    """One document Elasticsearch refused for good (not a retryable 429)."""

    position: int
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Back-off for whole requests and for 429-refused documents (back-pressure)."""

    attempts: int = 6
    first_delay_s: float = 0.2
    max_delay_s: float = 10.0

    def delay(self, attempt: int) -> float:
        # Full jitter: writers that were refused together do not come back together.
        return random.uniform(0, min(self.max_delay_s, self.first_delay_s * 2**attempt))


def connect(url: str, *, timeout_s: float = 30.0) -> Any:
    """A client for `url`, checked by one health call so a wrong URL fails at open, clearly."""
    from elasticsearch import Elasticsearch  # noqa: PLC0415 - elasticsearch client: +226 ms
    from elasticsearch import TransportError as ESTransportError  # noqa: PLC0415 - elasticsearch client: +226 ms

    # Retries are ours (RetryPolicy), so the client must not retry on its own as well.
    client = Elasticsearch(url, request_timeout=timeout_s, max_retries=0, retry_on_timeout=False)
    try:
        client.cluster.health(timeout="5s")
    except (ESTransportError, OSError) as exc:
        client.close()
        raise ConfigError(
            f"elasticsearch_url (DIJKWACHT_ELASTICSEARCH_URL): cannot reach Elasticsearch at "
            f"{url}: {exc}"
        ) from None
    return client


@lru_cache(maxsize=1)
def ecs_properties() -> dict[str, Any]:
    """Nested `properties` for the curated ECS fields (read once per process, on first use)."""
    properties: dict[str, Any] = {}
    with ECS_FIELDS_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            es_type = _TYPES.get(row["Type"])
            if row["Field_Set"] not in MAPPED_FIELD_SETS or es_type is None:
                continue
            parts = row["Field"].split(".")
            mapping: dict[str, Any] = {"type": es_type}
            if es_type == "keyword":
                mapping["ignore_above"] = KEYWORD_IGNORE_ABOVE
            node = properties
            for part in parts[:-1]:
                child = node.setdefault(part, {"properties": {}})
                if "type" in child:
                    # `host.os.name.text` is a multi-field of `host.os.name`, not a child.
                    child.setdefault("fields", {})[parts[-1]] = mapping
                    break
                node = child["properties"]
            else:
                if "properties" not in node.get(parts[-1], {}):
                    node[parts[-1]] = mapping
    properties["event"]["properties"]["original"] = {"type": "text"}
    properties["message"] = {"type": "text"}
    return properties


def event_mappings(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Mappings of an event-like index: curated ECS, keyword for everything else."""
    properties = dict(ecs_properties())
    properties.update(extra or {})
    return {
        "date_detection": False,
        "numeric_detection": False,
        "dynamic_templates": [
            {
                "unknown_as_keyword": {
                    "match_mapping_type": ["string", "long", "double"],
                    "mapping": {"type": "keyword", "ignore_above": KEYWORD_IGNORE_ABOVE},
                }
            }
        ],
        "properties": properties,
    }


def index_settings(*, shards: int = 1) -> dict[str, Any]:
    """One shard per daily index by default; a replica whenever a second node exists."""
    return {
        "number_of_shards": shards,
        "auto_expand_replicas": "0-1",
        "mapping.total_fields.limit": 5000,
        "refresh_interval": "1s",
    }


def bulk(
    client: Any,
    actions: Sequence[tuple[bytes, bytes | None]],
    *,
    refresh: bool | str = False,
    policy: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[BulkFailure]:
    """Send (action line, source line) pairs; retry 429s and failed requests with back-off.

    Returns the documents refused for good, by position in `actions`; a `create` that finds
    its id already there (409) counts as done, which makes redelivery idempotent. Raises
    `StoreUnavailableError` when the cluster keeps refusing the request or documents.

    Kept instead of `elasticsearch.helpers.streaming_bulk` (issue #22): measured with
    bench/es_ingest.py, the helper reached 0.57-0.70 of `parallel_bulk` against 0.86-1.00 for
    this loop (it re-serialises every action line with the stdlib JSON encoder and yields
    retried documents out of order, so positions must be found again by `_id`), it does not
    retry a broken connection, and its back-off has no jitter.
    """
    from elasticsearch import ApiError  # noqa: PLC0415 - elasticsearch client: +226 ms
    from elasticsearch import TransportError as ESTransportError  # noqa: PLC0415 - elasticsearch client: +226 ms

    policy = policy or RetryPolicy()
    pending = list(range(len(actions)))
    failures: list[BulkFailure] = []
    attempt = 0
    while pending:
        lines: list[bytes] = []
        for i in pending:
            meta, source = actions[i]
            lines.append(meta)
            if source is not None:
                lines.append(source)
        lines.append(b"")
        body = b"\n".join(lines)
        try:
            response = client.bulk(body=body, refresh=refresh)
        except ApiError as exc:
            if exc.meta.status not in RETRY_STATUSES:
                raise StoreUnavailableError(f"Elasticsearch refused a bulk request: {exc}") from exc
            retry, reason = pending, f"HTTP {exc.meta.status}"
        except (ESTransportError, OSError) as exc:
            retry, reason = pending, str(exc)
        else:
            retry = []
            for position, item in zip(pending, response["items"], strict=True):
                result = next(iter(item.values()))
                status = int(result.get("status", 500))
                if status < 300 or (status == 409 and b'"create"' in actions[position][0][:12]):
                    continue
                if status in RETRY_STATUSES:
                    retry.append(position)
                    continue
                error = result.get("error", {})
                failures.append(BulkFailure(position, status, _describe(error)))
            reason = f"{len(retry)} document(s) refused with 429 (cluster busy)"
        if not retry:
            break
        if attempt + 1 >= policy.attempts:
            raise StoreUnavailableError(
                f"Elasticsearch still refusing after {policy.attempts} attempts: {reason}"
            )
        sleep(policy.delay(attempt))
        attempt += 1
        pending = retry
    return failures


def _describe(error: Any) -> str:
    """`type: reason (caused by ...)` from a bulk item error, for the dead letter."""
    if not isinstance(error, dict):
        return str(error)
    text = f"{error.get('type', 'error')}: {error.get('reason', '')}"
    cause = error.get("caused_by")
    if isinstance(cause, dict):
        text += f" (caused by {cause.get('type')}: {cause.get('reason')})"
    return text


def ensure_template(client: Any, *, name: str, body: dict[str, Any]) -> None:
    """Create or update a composable index template (idempotent; runs when a store opens)."""
    client.indices.put_index_template(name=name, **body)


def ensure_index(client: Any, *, index: str, aliases: dict[str, Any] | None = None) -> None:
    """Create `index` unless it exists; two processes racing on it both succeed."""
    from elasticsearch import BadRequestError  # noqa: PLC0415 - elasticsearch client: +226 ms

    if client.indices.exists(index=index):
        return
    try:
        client.indices.create(index=index, aliases=aliases or None)
    except BadRequestError as exc:
        if "resource_already_exists_exception" not in str(exc):
            raise


def delete_matching(
    client: Any, *, index: str, query: dict[str, Any], policy: RetryPolicy, what: str
) -> int:
    """Delete every document matching `query`: search then bulk delete by _id, page by page.

    Returns how many were deleted; raises `StoreUnavailableError` naming `what` when a whole
    page is refused (nothing would ever progress).
    """
    removed = 0
    while True:
        client.indices.refresh(index=index, ignore_unavailable=True)
        response = client.search(
            index=index,
            query=query,
            size=1000,
            source=False,
            ignore_unavailable=True,
            allow_no_indices=True,
        )
        hits = response["hits"]["hits"]
        if not hits:
            return removed
        actions: list[tuple[bytes, bytes | None]] = [
            (orjson.dumps({"delete": {"_index": hit["_index"], "_id": hit["_id"]}}), None)
            for hit in hits
        ]
        refused = bulk(client, actions, refresh=True, policy=policy)
        if len(refused) == len(actions):
            raise StoreUnavailableError(f"could not delete {what}")
        removed += len(actions) - len(refused)


def delete_exercise(
    client: Any, *, index: str, field: str, exercise_id: str, policy: RetryPolicy
) -> int:
    """Remove a drill's documents (those whose `field` is `exercise_id`); how many went."""
    check_exercise_id(exercise_id)
    return delete_matching(
        client,
        index=index,
        query={"term": {field: exercise_id}},
        policy=policy,
        what=f"exercise {exercise_id}",
    )


class ClientOwner:
    """Closing, also as a context manager, for a store that owns its client in `client`."""

    client: Any

    def close(self) -> None:
        self.client.close()

    def reusable(self) -> bool:
        """The client reconnects by itself; a pooled store can always be lent out again."""
        return True

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
