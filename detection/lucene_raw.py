"""Sigma rules as Lucene queries over raw (non-ECS) Windows events, with Sigma's semantics.

The streaming matcher compares field names and string values case-insensitively, treats the
keys ``ProcessID``/``ProcessId`` of one event as one field (either value may match), and
searches regular expressions case-sensitively anywhere in the value. To give the same answers,
events are indexed in a shape and with mappings built for it, and queries are adapted to it:

* keys are lower-cased on load; keys that then collide become one multi-valued field
  (`normalise_event`), and the rule's field names are lower-cased by a pipeline step appended
  to the stack (`LOWERCASE_FIELDS`);
* every value is a ``keyword`` with a ``lowercase`` normalizer (`index_template`), so terms and
  wildcards match regardless of case, and the number 4688 and the string "4688" are the same
  term; a ``.raw`` sub-field keeps the original case for regular expressions;
* regular expressions go to ``.raw`` and are unanchored, because Lucene anchors a regexp to the
  whole value while Sigma's ``re`` searches (`RawLuceneBackend`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, cast

from sigma.backends.elasticsearch import LuceneBackend
from sigma.conditions import ConditionFieldEqualsValueExpression
from sigma.conversion.base import TextQueryBackend
from sigma.conversion.state import ConversionState
from sigma.exceptions import SigmaError
from sigma.processing.pipeline import ProcessingItem, ProcessingPipeline
from sigma.processing.transformations import FieldFunctionTransformation
from sigma.rule import SigmaDetection, SigmaRule
from sigma.types import SigmaRegularExpression, SigmaRegularExpressionFlag

from detection.loader import parse_sources, read_sources
from detection.lucene_regex import lucene_regex
from detection.pipelines import resolve_stack, split_stack

# Lucene refuses terms over 32,766 bytes: longer values stay in _source, unindexed (a longer
# multi-byte value makes Elasticsearch reject the document: a dead letter, never silent).
IGNORE_ABOVE = 32766
# The field a stack's log-source mapping tests: ``Channel`` for raw Windows field names,
# ``winlog.channel`` under the ECS stacks (``ecs_windows``: Winlogbeat-shaped events). The
# streaming matcher scopes rules by the same fields (``detection.service.SCOPE_FIELDS``).
SCOPE_FIELDS = frozenset({"channel", "winlog.channel"})


def index_template(*, pattern: str, fields: Iterable[str] = ()) -> dict[str, Any]:
    """Index template body: every value a lower-cased keyword plus a case-kept ``.raw``.

    Known ``fields`` are mapped up front: a bulk that adds fields waits for a mapping update
    per new field, which makes loading many-fielded Windows events several times slower.
    """
    keyword = {
        "type": "keyword",
        "normalizer": "sigma_lowercase",
        "ignore_above": IGNORE_ABOVE,
        "fields": {"raw": {"type": "keyword", "ignore_above": IGNORE_ABOVE}},
    }
    return {
        "index_patterns": [pattern],
        "template": {
            "settings": {
                "number_of_shards": 1,
                "number_of_replicas": 0,
                "refresh_interval": "-1",
                # Keyword-only rules search every field; the corpus has ~500 distinct keys.
                "index.query.default_field": ["*"],
                "index.mapping.total_fields.limit": 5000,
                "analysis": {
                    "normalizer": {"sigma_lowercase": {"type": "custom", "filter": ["lowercase"]}}
                },
            },
            "mappings": {
                # Every scalar, not objects: ECS events (``winlog.channel``) keep their nesting.
                "dynamic_templates": [
                    {f"{kind}_keyword": {"match_mapping_type": kind, "mapping": keyword}}
                    for kind in ("string", "long", "double", "boolean", "date")
                ],
                "properties": {name.lower(): keyword for name in fields},
            },
        },
    }


def normalise_event(event: Mapping[str, Any]) -> dict[str, Any]:
    """Keys lower-cased; keys equal but for case merge into one list (as the matcher sees them).

    Nested objects (ECS: ``winlog.event_data.Data``) are normalised alike, at every level.
    """
    out: dict[str, Any] = {}
    for key, value in event.items():
        if isinstance(value, Mapping):
            value = normalise_event(value)
        name = key.lower()
        if name in out:
            before = out[name]
            out[name] = [*before, value] if isinstance(before, list) else [before, value]
        else:
            out[name] = value
    return out


def _lower(name: str | None) -> str:
    return (name or "").lower()


def lowercase_fields() -> ProcessingPipeline:
    """A pipeline step, run after the stack's, that lower-cases every field name."""
    return ProcessingPipeline(
        name="Lower-case field names (raw-event index)",
        priority=1000,
        items=[
            ProcessingItem(
                identifier="lowercase_field_names",
                transformation=FieldFunctionTransformation(mapping={}, transform_func=_lower),
            )
        ],
    )


class RawLuceneBackend(LuceneBackend):
    """Lucene backend for the raw-event index: regexes search ``.raw``, unanchored."""

    re_expression: ClassVar[str] = "{field}.raw:/{regex}/"
    cidr_expression: ClassVar[str | None] = None  # type: ignore[assignment]
    re_expression_nocase: ClassVar[str] = "{field}:/{regex}/"

    def convert_condition_field_eq_val_cidr(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """A keyword holds no network: match the address prefixes pySigma expands the CIDR to."""
        return TextQueryBackend.convert_condition_field_eq_val_cidr(self, cond, state)

    def convert_condition_field_eq_val_re(
        self, cond: ConditionFieldEqualsValueExpression, state: ConversionState
    ) -> Any:
        """Case-insensitive regexes (``(?i)``, ``|i``) search the lower-cased field instead."""
        regex = cast(SigmaRegularExpression, cond.value)
        pattern = regex.to_plain()
        nocase = SigmaRegularExpressionFlag.IGNORECASE in regex.flags
        if pattern.startswith("(?i)"):
            pattern, nocase = pattern[4:], True
        dotall = SigmaRegularExpressionFlag.DOTALL in regex.flags
        if SigmaRegularExpressionFlag.MULTILINE in regex.flags:
            raise NotImplementedError("multi-line regex anchors have no Lucene equivalent")
        head, pattern = ("", pattern[1:]) if pattern.startswith("^") else (".*", pattern)
        anchored = pattern.endswith("$") and not pattern.endswith("\\$")
        pattern = pattern[:-1] if anchored else pattern
        body = lucene_regex(pattern, lower=nocase, dotall=dotall)
        return (self.re_expression_nocase if nocase else self.re_expression).format(
            field=self.escape_and_quote_field(cond.field),
            regex=head + body + ("" if anchored else ".*"),
        )


@dataclass(frozen=True, slots=True)
class RawQuery:
    """One rule's Lucene query under one stack."""

    rule_id: str
    stack: str
    query: str


@dataclass(frozen=True, slots=True)
class NotConverted:
    """A rule that gives no query under a stack, and why."""

    rule_id: str
    stack: str
    reason: str


def convert_raw(
    *, paths: Iterable[Path], stacks: Sequence[str]
) -> tuple[list[RawQuery], list[NotConverted]]:
    """Queries per rule and stack, skipping what the streaming matcher skips (no Channel)."""
    sources, _problems = read_sources(list(paths))
    queries: list[RawQuery] = []
    failed: list[NotConverted] = []
    for stack in stacks:
        scoped = bool(split_stack(stack))
        stacked = resolve_stack(stack)
        pipeline = lowercase_fields() if stacked is None else stacked + lowercase_fields()
        backend = RawLuceneBackend(processing_pipeline=pipeline)
        for rule in parse_sources(sources).rules:  # fresh objects per stack
            rule_id = str(rule.id or rule.title)
            try:
                converted = backend.convert_rule(rule)
            except (SigmaError, NotImplementedError, TypeError, ValueError) as exc:
                failed.append(NotConverted(rule_id, stack, f"{type(exc).__name__}: {exc}"))
                continue
            if scoped and not _has_field(rule, SCOPE_FIELDS):
                continue  # log source not mapped to a Channel: not run there (as streaming)
            queries.extend(RawQuery(rule_id, stack, str(q)) for q in converted)
    return queries, failed


def _has_field(rule: SigmaRule, names: frozenset[str]) -> bool:
    """Whether a detection item of the processed rule tests one of ``names`` (pipelines add it)."""
    pending: list[SigmaDetection] = list(rule.detection.detections.values())
    while pending:
        for item in pending.pop().detection_items:
            if isinstance(item, SigmaDetection):
                pending.append(item)
            elif item.field is not None and item.field.lower() in names:
                return True
    return False
